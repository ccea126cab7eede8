from django.conf import settings
from django.db import models
from django.utils import timezone


class OptOutSpace(models.Model):
    """A space key excluded from exports (its pages, comments and analytics events too)."""

    TYPE_SPACE = "SPACE"

    space_key = models.CharField(max_length=255, unique=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "opted-out space"
        ordering = ["space_key"]

    def __str__(self) -> str:
        return self.space_key
