from django.apps import AppConfig


class DatapipelineConfig(AppConfig):
    """The export engine and its plumbing: schema, CSV writer, properties, tokens, REST routing."""

    name = "datapipeline"
    verbose_name = "Data pipeline configuration"
