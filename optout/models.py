from django.conf import settings
from django.db import models
from django.utils import timezone


class OptOutSpace(models.Model):
    """A key excluded from exports: a space's (its pages, comments and analytics events too), or the key of
    another opt-out scope a dataset registers (``scope``: ``SPACE``, ``PROJECT``, ...)."""

    TYPE_SPACE = "SPACE"

    scope = models.CharField(max_length=50, default=TYPE_SPACE)
    space_key = models.CharField(max_length=255)
    created = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "opted-out space"
        ordering = ["scope", "space_key"]
        constraints = [models.UniqueConstraint(fields=["scope", "space_key"], name="optout_unique_key_per_scope")]

    def __str__(self) -> str:
        return self.space_key
