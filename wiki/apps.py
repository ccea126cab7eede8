from django.apps import AppConfig


class WikiConfig(AppConfig):
    """The collaboration site whose data the pipeline exports."""

    name = "wiki"
    verbose_name = "Site content"
