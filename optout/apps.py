from django.apps import AppConfig


class OptoutConfig(AppConfig):
    """Spaces excluded from every export."""

    name = "optout"
    verbose_name = "Opt-out list"
