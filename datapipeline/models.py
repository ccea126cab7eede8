"""Stored configuration of the pipeline: property overrides, the custom export path, access tokens."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConfigProperty(models.Model):
    """A configuration property set by an administrator; overrides env, settings and the default."""

    key = models.CharField(max_length=200, unique=True)
    value = models.CharField(max_length=1000)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "configuration property"
        verbose_name_plural = "configuration properties"

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


class ExportPath(models.Model):
    """The custom root export path; no row means the default under the shared home."""

    path = models.CharField(max_length=4096)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "custom export path"

    def __str__(self) -> str:
        return self.path


class PersonalAccessToken(models.Model):
    """A personal access token; only the SHA-256 of the token is stored, never the token itself."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_four = models.CharField(max_length=4, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return f"{self.name} (…{self.last_four})"
