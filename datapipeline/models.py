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


class RequestTimings(models.Model):
    """Requests one web process served in about a second: ``samples`` is ``[[start unix time, milliseconds], ...]``.

    Written by ``SiteLatencyMiddleware``, read by the adaptive export throttle, purged after ten minutes.
    """

    published = models.DateTimeField(default=timezone.now, db_index=True)
    process = models.CharField(max_length=200)
    samples = models.JSONField(default=list)

    class Meta:
        verbose_name = "request timings"
        verbose_name_plural = "request timings"

    def __str__(self) -> str:
        return f"{self.process} at {self.published:%Y-%m-%d %H:%M:%S}: {len(self.samples)} requests"


class ChangeLog(models.Model):
    """A row of an exported dataset changed or disappeared: written by database triggers (see
    ``datapipeline.changes``), read by incremental exports, purged once no future export can use it.

    ``row_pk`` is the dataset row's primary key (a user's id for the users dataset, whichever of its
    tables changed); ``key`` the row's export key *before* the change (None for an insert), so a
    deleted row or a changed key can be reported as a deleted key.
    """

    id = models.BigAutoField(primary_key=True)
    dataset = models.CharField(max_length=64)
    row_pk = models.BigIntegerField()
    key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: no old key (insert)
    changed_at = models.DateTimeField()
    deleted = models.BooleanField(default=False)

    class Meta:
        verbose_name = "change log entry"
        verbose_name_plural = "change log"
        indexes = [
            models.Index(fields=["dataset", "changed_at"], name="dp_changelog_dataset_at"),
            models.Index(fields=["changed_at"], name="dp_changelog_at"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} {self.row_pk} at {self.changed_at}"
