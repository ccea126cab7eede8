from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DatapipelineConfig(AppConfig):
    """The export engine and its plumbing: dataset registry, column kinds, CSV writer, properties, tokens,
    REST routing."""

    name = "datapipeline"
    verbose_name = "Data pipeline configuration"

    def ready(self) -> None:
        # Each installed app's datasets.py registers its datasets and opt-out scopes (in INSTALLED_APPS order).
        autodiscover_modules("datasets")
