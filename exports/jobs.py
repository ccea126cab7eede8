"""The export job's lifecycle: the only code that writes ``ExportJob.status`` (services layer).

    create (under the one-export lock) -> claim -> progress / heartbeat -> finish
                    \\-> cancellation request -> the runner sees it at its next flush -> finish CANCELLED
                    \\-> a dead worker's job is reaped (or cancelled at once) -> FAILED / CANCELLED

Every transition out of an active status is a conditional update (``status__in=ACTIVE_STATUSES``),
so a terminal job never changes again. The engine (``datapipeline.runner``) knows no job row: it
gets the job as plain values and calls back ``job_save_progress``, ``job_beat`` and ``job_end``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from datapipeline.errors import (
    KEY_JOB_FINISHED,
    KEY_JOB_NOT_FOUND,
    KEY_UNEXPECTED,
    Conflict,
    ExportAlreadyRunning,
    entry,
)
from datapipeline.jobfiles import close_dead_job_files, job_dir, write_job_manifest
from datapipeline.runner import ExportResult, ExportSpec, JobHooks, run_export

from .audit import audit_record
from .models import ACTIVE_STATUSES, ExportJob, ExportMode, JobStatus
from .selectors import job_to_dict

log = logging.getLogger(__name__)

TASK_NAME = "exports.tasks.run_export_task"
TASK_HOOK = "exports.tasks.export_task_done"


# --- the stale-heartbeat rule ------------------------------------------------------------------


def stale_before(now: datetime | None = None) -> datetime:
    """A worker whose last sign of life is older than this is dead (``DATAPIPELINE_HEARTBEAT_TIMEOUT``)."""
    return (now or timezone.now()) - timedelta(seconds=settings.DATAPIPELINE_HEARTBEAT_TIMEOUT)


def job_is_stale(job: ExportJob, now: datetime | None = None) -> bool:
    """Active, and no sign of life within the timeout: its heartbeat, or its start if no worker took it."""
    return job.is_active and (job.heartbeat or job.start_time) < stale_before(now)


def worker_is_dead(job: ExportJob, now: datetime | None = None) -> bool:
    """A worker took the job and then stopped sending heartbeats."""
    return job.heartbeat is not None and job_is_stale(job, now)


# --- create ------------------------------------------------------------------------------------


def job_create(*, problems: list[dict[str, str]], user: Any, enqueue: bool, **fields: Any) -> ExportJob:
    """Create the job under the one-active-export constraint and queue it on commit.

    ``problems`` (failed pre-validation) make it FAILED at once and never queued. Raises
    ExportAlreadyRunning (the running job) or Conflict (two starts at the same moment).
    """
    job_reap_stale()
    # The constraint is what guarantees one export at a time; this read only avoids
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
                triggered_by=user if getattr(user, "pk", None) else None,
                start_time=now,
                completed_time=now if problems else None,
                errors=problems,
                **fields,
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
    return job


def job_base(schema_version: int) -> ExportJob | None:
    """The base of an incremental export: the last COMPLETED export of that schema version (full or not)."""
    return ExportJob.objects.filter(status=JobStatus.COMPLETED, schema_version=schema_version).order_by("-id").first()


def job_chain(base_id: int | None) -> list[ExportJob]:
    """The jobs a loader applied up to ``base_id``, oldest (the FULL export) first."""
    chain = []
    job = ExportJob.objects.filter(pk=base_id).first()
    while job is not None:
        chain.append(job)
        if job.mode != ExportMode.INCREMENTAL or job.since_job_id is None:
            break
        job = ExportJob.objects.filter(pk=job.since_job_id).first()
    return chain[::-1]


def job_reconcile_due(base_id: int, every: int) -> bool:
    """Every ``every``-th incremental export since the chain's FULL export or its last reconciliation (one
    skipped because the chain's files were gone does not count)."""
    if every <= 0:
        return False
    since = 1  # this one
    for job in reversed(job_chain(base_id)):
        if job.mode != ExportMode.INCREMENTAL or "reconciled" in job.statistics:
            break
        since += 1
    return since >= every


def job_record_refused(*, error: dict[str, str], user: Any, **fields: Any) -> ExportJob:
    """A FAILED job for an export refused before it started (it never conflicts with the lock)."""
    now = timezone.now()
    return ExportJob.objects.create(
        status=JobStatus.FAILED,
        node_id=settings.DATAPIPELINE_NODE_ID,
        triggered_by=user if getattr(user, "pk", None) else None,
        start_time=now,
        completed_time=now,
        errors=[error],
        **fields,
    )


def _enqueue(job_id: int) -> None:
    """Queue the job's task (called on commit); if the queue refuses it, end the job FAILED at once."""
    from django_q.tasks import async_task

    try:
        async_task(TASK_NAME, job_id, task_name=f"export-{job_id}", group="exports", hook=TASK_HOOK)
    except Exception as exc:
        job_finish(
            job_id,
            JobStatus.FAILED,
            errors=[entry(KEY_UNEXPECTED, f"The export could not be queued: {type(exc).__name__}: {exc}")],
        )
        log.exception("Export %s could not be queued", job_id)


# --- run: claim, progress, heartbeat, end ------------------------------------------------------


def job_claim(job_id: int) -> bool:
    """Take the job for this node; False if it is not startable (delivery is at-least-once)."""
    claimed = ExportJob.objects.filter(pk=job_id, status=JobStatus.STARTED, heartbeat__isnull=True).update(
        heartbeat=timezone.now(), node_id=settings.DATAPIPELINE_NODE_ID
    )
    return claimed == 1


def job_save_progress(job_id: int, statistics: dict[str, Any]) -> str | None:
    """Store a running job's progress with its heartbeat; return its status (a cancel request shows here)."""
    ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(
        statistics=statistics, heartbeat=timezone.now()
    )
    return ExportJob.objects.filter(pk=job_id).values_list("status", flat=True).first()


def job_beat(job_id: int) -> None:
    """The heartbeat alone (from the runner's heartbeat thread)."""
    ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(heartbeat=timezone.now())


def job_finish(
    job_id: int,
    status: str,
    *,
    statistics: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> bool:
    """Move an active job to a terminal status; False if it was already terminal."""
    now = now or timezone.now()
    fields.update(status=status, completed_time=now)
    fields.setdefault("heartbeat", now)
    if status == JobStatus.CANCELLED:
        fields["cancelled_time"] = now
    if statistics is not None:
        fields["statistics"] = statistics
    if errors:
        fields["errors"] = [*ExportJob.objects.values_list("errors", flat=True).get(pk=job_id), *errors]
    return ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(**fields) == 1


def job_end(job_id: int, result: ExportResult) -> None:
    """Write the manifest, then end the job: whoever sees the terminal status finds the manifest."""
    now = timezone.now()
    job = ExportJob.objects.get(pk=job_id)
    status, errors = result.status, result.errors
    finished = False
    if job.is_active:
        job.status, job.completed_time, job.heartbeat = status, now, now
        if status == JobStatus.CANCELLED:
            job.cancelled_time = now
        job.statistics = result.statistics
        job.errors = [*job.errors, *errors]
        job.warnings = [*job.warnings, *result.warnings]
        problem = write_job_manifest(job_to_dict(job), result.directory, result.files, result.file_mode)
        if problem and status == JobStatus.COMPLETED:
            status = job.status = JobStatus.FAILED
        if problem:
            errors = [*errors, problem]
        extra = {"warnings": job.warnings} if result.warnings else {}
        finished = job_finish(job.pk, status, statistics=result.statistics, errors=errors, now=now, **extra)
    if not finished:  # ended meanwhile (reaped, cancelled at once): the manifest tells what really happened
        job.refresh_from_db()
        log.warning("Export %s was already %s when its runner ended as %s.", job.pk, job.status, status)
        write_job_manifest(job_to_dict(job), result.directory, result.files, result.file_mode)


def job_run(job_id: int, *, on_progress: Any = None, stop_check: Any = None) -> ExportJob:
    """Claim job ``job_id`` and run it to a terminal status (``datapipeline.runner.run_export``); return the row.

    ``stop_check`` is asked between batches whether the worker is shutting down (a reason, or None).
    """
    if not job_claim(job_id):
        job = ExportJob.objects.get(pk=job_id)
        if job.status == JobStatus.CANCELLATION_REQUESTED and job.heartbeat is None:
            job_finish(job_id, JobStatus.CANCELLED)  # cancelled before any worker took it
        else:
            log.warning("Export %s is %s; not running it again.", job_id, job.status)
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.get(pk=job_id)
    spec = ExportSpec(
        pk=job.pk,
        schema_version=job.schema_version,
        export_from=job.export_from,
        start_time=job.start_time,
        root_export_path=job.root_export_path,
        forced_export=job.forced_export,
        opted_out_spaces=job.opted_out_spaces,
        changes_since=job.changes_since if job.mode == ExportMode.INCREMENTAL else None,
        base_opted_out=ExportJob.objects.filter(pk=job.since_job_id).values_list("opted_out_spaces", flat=True).first(),
        file_format=job.file_format,
        reconcile_dirs=tuple(job_dir(j) for j in job_chain(job.since_job_id)) if job.reconcile else None,
    )
    hooks = JobHooks(
        save_progress=partial(job_save_progress, job_id),
        beat=partial(job_beat, job_id),
        finish=partial(job_end, job_id),
    )
    run_export(spec, hooks, on_progress=on_progress, stop_check=stop_check)
    return ExportJob.objects.get(pk=job_id)


def job_task_failed(job_id: int, detail: str) -> None:
    """A task that died before the runner could end its job ends the job FAILED; only a job no other
    worker is running (never claimed, or claimed on this node)."""
    job = ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).first()
    if job is None or (job.heartbeat is not None and job.node_id != settings.DATAPIPELINE_NODE_ID):
        return
    job_finish(
        job_id,
        JobStatus.FAILED,
        errors=[entry(KEY_UNEXPECTED, f"The export task failed in the worker on node {job.node_id}: {detail}")],
    )
    log.error("Export %s failed in its task: %s", job_id, detail)


# --- cancel and reap ---------------------------------------------------------------------------


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
    message = (
        f"Cancelled at once: the worker on node {job.node_id or 'unknown'} sent no heartbeat since "
        f"{job.heartbeat.isoformat(timespec='seconds')}."
        if job.heartbeat
        else ""
    )
    if not (
        worker_is_dead(job, now) and _end_dead(job, JobStatus.CANCELLED, message, now, cancellation_requested_time=now)
    ):
        ExportJob.objects.filter(pk=job.pk, status=JobStatus.STARTED).update(
            status=JobStatus.CANCELLATION_REQUESTED, cancellation_requested_time=now
        )
    audit_record(action="export.cancel", user=user, via=via, jobId=job.pk)
    job.refresh_from_db()
    return job


def job_reap_stale(*, now: datetime | None = None) -> list[int]:
    """End active jobs whose worker stopped sending heartbeats, tidying their files; returns their ids."""
    now = now or timezone.now()
    timeout = settings.DATAPIPELINE_HEARTBEAT_TIMEOUT
    reaped = []
    for job in ExportJob.objects.filter(status__in=ACTIVE_STATUSES):
        if not job_is_stale(job, now):
            continue
        last = (job.heartbeat or job.start_time).isoformat(timespec="seconds")
        if job.heartbeat is None:
            message = (
                f"No worker picked the export up within {timeout} s of its start "
                f"at {last} (queued from node {job.node_id or 'unknown'}); "
                "is a `python manage.py qcluster` running? The job was ended automatically."
            )
        else:
            message = (
                f"The export's worker on node {job.node_id or 'unknown'} stopped responding: "
                f"no heartbeat since {last} (limit {timeout} s). The job was ended automatically."
            )
        status = JobStatus.CANCELLED if job.status == JobStatus.CANCELLATION_REQUESTED else JobStatus.FAILED
        if _end_dead(job, status, message, now):
            reaped.append(job.pk)
    return reaped


def _end_dead(job: ExportJob, status: str, message: str, now: datetime, **fields: Any) -> bool:
    """End a job whose worker is gone, unless it changed meanwhile (status and heartbeat as read); then
    remove its partial files and write its manifest, its statistics counting only the complete files."""
    ended = ExportJob.objects.filter(pk=job.pk, status=job.status, heartbeat=job.heartbeat).update(
        status=status,
        completed_time=now,
        cancelled_time=now if status == JobStatus.CANCELLED else None,
        errors=[*job.errors, entry(KEY_UNEXPECTED, message)],
        **fields,
    )
    if not ended:
        return False
    job = ExportJob.objects.get(pk=job.pk)
    try:
        close_dead_job_files(job, job_to_dict)
    except OSError:  # the job is ended either way; what is left on disk is said in the log
        log.exception("Export %s: could not tidy its directory after its worker died", job.pk)
    ExportJob.objects.filter(pk=job.pk).update(statistics=job.statistics)
    return True
