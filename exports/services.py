"""Starting, cancelling and reaping exports: the one implementation every trigger calls."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from datapipeline.control import disk_space_problem
from datapipeline.errors import (
    KEY_FROM_DATE_INVALID,
    KEY_JOB_FINISHED,
    KEY_JOB_NOT_FOUND,
    KEY_PRE_VALIDATION_FAILED,
    KEY_SCHEMA_DEPRECATED,
    KEY_SCHEMA_MISSING,
    KEY_UNEXPECTED,
    Conflict,
    ExportAlreadyRunning,
    InvalidParameter,
    entry,
)
from datapipeline.paths import export_root
from datapipeline.properties import get_property
from datapipeline.schema import DEFAULT_VERSION, VERSIONS, version_info
from optout.services import optout_list

from .models import ACTIVE_STATUSES, AuditEntry, ExportJob, JobStatus, Trigger

log = logging.getLogger(__name__)

DEFAULT_WINDOW = timedelta(days=365)
TASK_NAME = "exports.tasks.run_export_task"
TASK_HOOK = "exports.tasks.export_task_done"


def parse_from_date(value: str | datetime | None, *, now: datetime | None = None) -> datetime:
    """ISO 8601 with an offset, not in the future, truncated to the minute; default now - 365 days."""
    now = now or timezone.now()
    if value is None or value == "":
        parsed = now - DEFAULT_WINDOW
    elif isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidParameter(
                f"fromDate {value!r} is not an ISO 8601 date-time such as 2026-01-31T00:00:00Z.",
                key=KEY_FROM_DATE_INVALID,
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidParameter(
            f"fromDate {value!r} has no time-zone offset; add Z or an offset such as +01:00.",
            key=KEY_FROM_DATE_INVALID,
        )
    try:
        parsed.astimezone(UTC)  # every database stores it in UTC
    except OverflowError:
        raise InvalidParameter(
            f"fromDate {value!r} is out of range once converted to UTC.", key=KEY_FROM_DATE_INVALID
        ) from None
    if parsed > now:
        raise InvalidParameter(f"fromDate {value!r} is in the future.", key=KEY_FROM_DATE_INVALID)
    return parsed.replace(second=0, microsecond=0)


def parse_schema_version(value: object) -> int:
    if value is None or value == "":
        return DEFAULT_VERSION
    try:
        version = int(str(value).strip())
    except ValueError:
        version = None
    if version is None or version_info(version) is None:
        supported = ", ".join(str(v.version) for v in VERSIONS)
        raise InvalidParameter(
            f"Schema version {value!r} is not supported; supported versions: {supported}.", key=KEY_SCHEMA_MISSING
        )
    return version


def audit_record(*, action: str, user: Any = None, via: str = "", outcome: str = "ok", **details: Any) -> None:
    AuditEntry.objects.create(
        action=action, user=user if getattr(user, "pk", None) else None, via=via, outcome=outcome, details=details
    )


def job_reap_stale(*, now: datetime | None = None) -> list[int]:
    """End active jobs whose worker stopped sending heartbeats; returns their ids."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=settings.DATAPIPELINE_HEARTBEAT_TIMEOUT)
    reaped = []
    for job in ExportJob.objects.filter(status__in=ACTIVE_STATUSES):
        last = job.heartbeat or job.start_time
        if last >= limit:
            continue
        if job.heartbeat is None:
            message = (
                f"No worker picked the export up within {settings.DATAPIPELINE_HEARTBEAT_TIMEOUT} s of its start "
                f"at {last.isoformat(timespec='seconds')} (queued from node {job.node_id or 'unknown'}); "
                "is a `python manage.py qcluster` running? The job was ended automatically."
            )
        else:
            message = (
                f"The export's worker on node {job.node_id or 'unknown'} stopped responding: "
                f"no heartbeat since {last.isoformat(timespec='seconds')} "
                f"(limit {settings.DATAPIPELINE_HEARTBEAT_TIMEOUT} s). The job was ended automatically."
            )
        status = JobStatus.CANCELLED if job.status == JobStatus.CANCELLATION_REQUESTED else JobStatus.FAILED
        updated = ExportJob.objects.filter(pk=job.pk, status=job.status, heartbeat=job.heartbeat).update(
            status=status,
            completed_time=now,
            cancelled_time=now if status == JobStatus.CANCELLED else None,
            errors=[*job.errors, entry(KEY_UNEXPECTED, message)],
        )
        if updated:
            reaped.append(job.pk)
    return reaped


def _enqueue(job_id: int) -> None:
    """Queue the job's task (called on commit); if the queue refuses it, end the job FAILED at once."""
    from django_q.tasks import async_task

    try:
        async_task(TASK_NAME, job_id, task_name=f"export-{job_id}", group="exports", hook=TASK_HOOK)
    except Exception as exc:
        from datapipeline.runner import finish_job

        finish_job(
            job_id,
            JobStatus.FAILED,
            errors=[entry(KEY_UNEXPECTED, f"The export could not be queued: {type(exc).__name__}: {exc}")],
        )
        log.exception("Export %s could not be queued", job_id)


def export_start(
    *,
    from_date: str | datetime | None = None,
    schema_version: object = None,
    force_export: bool = False,
    trigger: str = Trigger.COMMAND,
    user: Any = None,
    enqueue: bool = True,
) -> ExportJob:
    """Validate, create the job under the one-active-export constraint and queue it.

    Raises InvalidParameter (nothing written) or ExportAlreadyRunning. A job whose
    pre-validation fails is returned FAILED (not queued) unless ``force_export``.
    """
    parsed_from = parse_from_date(from_date)
    version = parse_schema_version(schema_version)
    warnings = []
    info = version_info(version)
    if info and info.status == "DEPRECATED":
        warnings.append(
            entry(
                KEY_SCHEMA_DEPRECATED,
                f"Schema version {version} is deprecated and gains no new fields; "
                f"version {DEFAULT_VERSION} is the current one.",
            )
        )
    root, _custom = export_root()
    problems = []
    disk = disk_space_problem(root, get_property("plugin.data.pipeline.minimum.usable.disk.space.after.export"))
    if disk:
        problems.append(entry(KEY_PRE_VALIDATION_FAILED, disk))
    if problems and force_export:
        warnings.extend(problems)
        problems = []

    job_reap_stale()
    # The constraint below is what guarantees one export at a time; this read only avoids
    # burning a job id (a PostgreSQL sequence value) on the ordinary refusal.
    running = ExportJob.objects.filter(status__in=ACTIVE_STATUSES).first()
    if running is not None:
        raise ExportAlreadyRunning(running)
    now = timezone.now()
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(
                status=JobStatus.FAILED if problems else JobStatus.STARTED,
                node_id=settings.DATAPIPELINE_NODE_ID,
                trigger=trigger,
                triggered_by=user if getattr(user, "pk", None) else None,
                start_time=now,
                completed_time=now if problems else None,
                schema_version=version,
                export_from=parsed_from,
                forced_export=bool(force_export),
                root_export_path=str(root),
                opted_out_spaces=optout_list(),
                warnings=warnings,
                errors=problems,
            )
            if enqueue and not problems:
                transaction.on_commit(lambda: _enqueue(job.pk))
    except IntegrityError:
        running = ExportJob.objects.filter(status__in=ACTIVE_STATUSES).first()
        if running is None:  # it finished between our insert and this read
            raise Conflict(
                "Another export was starting at the same moment; try again.", key="export.already.running"
            ) from None
        raise ExportAlreadyRunning(running) from None
    audit_record(action="export.start", user=user, via=trigger, jobId=job.pk, status=job.status)
    return job


def export_record_refused(
    *,
    trigger: str,
    key: str,
    message: str,
    from_date: datetime | None = None,
    schema_version: int | None = None,
    user: Any = None,
) -> ExportJob:
    """Record an export that was refused before it started (e.g. a scheduled run while another
    export was active) as a FAILED job carrying the reason, so the history shows it.

    A FAILED row never conflicts with the one-active-job constraint.
    """
    now = timezone.now()
    root, _custom = export_root()
    job = ExportJob.objects.create(
        status=JobStatus.FAILED,
        node_id=settings.DATAPIPELINE_NODE_ID,
        trigger=trigger,
        triggered_by=user if getattr(user, "pk", None) else None,
        start_time=now,
        completed_time=now,
        schema_version=schema_version or DEFAULT_VERSION,
        export_from=from_date or now - DEFAULT_WINDOW,
        root_export_path=str(root),
        errors=[entry(key, message)],
    )
    audit_record(action="export.start", user=user, via=trigger, outcome="refused", jobId=job.pk, reason=message)
    return job


def export_cancel(*, job_id: int | None = None, user: Any = None, via: str = "") -> ExportJob:
    """Ask a running job (the latest by default) to stop; a job with a dead worker ends at once."""
    job = ExportJob.objects.filter(pk=job_id).first() if job_id is not None else ExportJob.objects.first()
    if job is None:
        raise Conflict(
            f"There is no export with id {job_id}." if job_id is not None else "There is no export to cancel.",
            key=KEY_JOB_NOT_FOUND,
        )
    if job.is_terminal:
        raise Conflict(f"Export {job.pk} has already finished ({job.status}).", key=KEY_JOB_FINISHED)
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.DATAPIPELINE_HEARTBEAT_TIMEOUT)
    worker_dead = job.heartbeat is not None and job.heartbeat < stale_before
    if worker_dead:
        ExportJob.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELLED,
            cancelled_time=now,
            completed_time=now,
            cancellation_requested_time=now,
            errors=[
                *job.errors,
                entry(
                    KEY_UNEXPECTED,
                    (
                        f"Cancelled at once: the worker on node {job.node_id or 'unknown'} sent no heartbeat since "
                        f"{job.heartbeat.isoformat(timespec='seconds')}."
                    ),
                ),
            ],
        )
    else:
        ExportJob.objects.filter(pk=job.pk, status=JobStatus.STARTED).update(
            status=JobStatus.CANCELLATION_REQUESTED, cancellation_requested_time=now
        )
    audit_record(action="export.cancel", user=user, via=via, jobId=job.pk)
    job.refresh_from_db()
    return job
