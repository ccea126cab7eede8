from django.apps import AppConfig


class TestappConfig(AppConfig):
    """A second site app, in the test settings only: an issue tracker's tickets, exported by the same engine."""

    name = "tests.testapp"
    label = "testapp"
    verbose_name = "Test tracker"
    default_auto_field = "django.db.models.BigAutoField"
