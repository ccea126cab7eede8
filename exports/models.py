"""Export jobs (a small state machine), the export schedule and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from datapipeline.jobstatus import ACTIVE_STATUSES, TERMINAL_STATUSES, JobStatus

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "AuditEntry",
    "ExportJob",
    "ExportMode",
    "ExportSchedule",
    "JobStatus",
    "Trigger",
]


class Trigger(models.TextChoices):
    ADMIN = "admin"
    API = "api"
    COMMAND = "command"
    SCHEDULE = "schedule"


class ExportMode(models.TextChoices):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


class ExportJob(models.Model):
    """One export. Ids start at 1 and are never reused; a terminal job never changes again."""

    status = models.CharField(max_length=32, choices=JobStatus.choices, default=JobStatus.STARTED)
    # Always 1: with the partial unique constraint below, the database itself allows one
    # active job, across processes and machines.
    lock_slot = models.PositiveSmallIntegerField(default=1, editable=False)
    node_id = models.CharField(max_length=255, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.COMMAND)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    start_time = models.DateTimeField(default=timezone.now)
    completed_time = models.DateTimeField(null=True, blank=True)
    cancelled_time = models.DateTimeField(null=True, blank=True)
    cancellation_requested_time = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    schema_version = models.PositiveIntegerField()
    file_format = models.CharField(max_length=16, default="csv")  # csv | parquet (the files' format)
    export_from = models.DateTimeField()
    forced_export = models.BooleanField(default=False)
    root_export_path = models.CharField(max_length=4096)
    opted_out_spaces = models.JSONField(default=list, blank=True)
    # INCREMENTAL: the rows changed since ``changes_since`` (the start of job ``since_job_id`` minus the
    # lookback) and the keys gone since; an incremental request without a base runs FULL.
    mode = models.CharField(max_length=16, choices=ExportMode.choices, default=ExportMode.FULL)
    since_job_id = models.PositiveIntegerField(null=True, blank=True)
    changes_since = models.DateTimeField(null=True, blank=True)
    # INCREMENTAL: also compare the base chain's keys (read from its files) with the site's (datapipeline.reconcile).
    reconcile = models.BooleanField(default=False)

    # {"exportedEntities": n, "writtenRows": n, "entities": {"pages": {"rows": n, "done": bool}, ...}}
    statistics = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)  # [{"key": ..., "message": ...}]
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lock_slot"],
                condition=Q(status__in=list(ACTIVE_STATUSES)),
                name="exports_one_active_job",
            )
        ]
        verbose_name = "export job"

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def job_dir_name(self) -> str:
        return str(self.pk)


class ExportSchedule(models.Model):
    """The one export schedule. Times are wall-clock times in ``TIME_ZONE``."""

    enabled = models.BooleanField(default=True)
    days = models.JSONField(default=list)  # ["mon", "sat"]
    repeat_interval_weeks = models.PositiveSmallIntegerField(default=1)
    time = models.TimeField()
    # Either an absolute fromDate, or a rolling window of so many days (or months) before each run.
    from_date = models.DateTimeField(null=True, blank=True)
    rolling_window_days = models.PositiveIntegerField(null=True, blank=True)
    rolling_window_months = models.PositiveIntegerField(null=True, blank=True)
    schema_version = models.PositiveIntegerField(null=True, blank=True)
    mode = models.CharField(max_length=16, choices=ExportMode.choices, default=ExportMode.FULL)
    file_format = models.CharField(max_length=16, default="csv")  # csv | parquet, for each run
    # The first run after saving; "every N weeks" counts from its date (in ``time_zone``).
    first_run = models.DateTimeField(null=True, blank=True)
    # TIME_ZONE when the schedule was saved: the stored time stays as entered if it changes.
    time_zone = models.CharField(max_length=64, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "export schedule"

    def __str__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"Export schedule ({state}): {', '.join(self.days)} at {self.time}"


class AuditEntry(models.Model):
    """Who did what to the pipeline, including refused attempts."""

    created = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)  # export.start, export.cancel, optout.add, ...
    outcome = models.CharField(max_length=16, default="ok")  # ok | refused
    via = models.CharField(max_length=16, blank=True)  # api | admin | command | schedule
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.action} {self.outcome}"
