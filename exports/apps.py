from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Export jobs, their schedule and the audit log: services, task, admin, API and commands."""

    name = "exports"
    verbose_name = "Data pipeline"
