"""Run one export job: stream every entity into its CSV file, then write the manifest.

The runner claims the job row (so a second delivery of the same task does nothing), streams
each entity in keyset batches by primary key with ``values_list`` (flat memory, no per-row
queries, no long transaction), and moves the job to its terminal state with a conditional
update, so a terminal job never changes again.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from . import pgcopy
from .control import DiskSpaceLow, ExportCancelled, ExportControl, WorkerShutdown
from .csvfile import CsvFileWriter
from .errors import KEY_UNEXPECTED, entry
from .formatting import Dialect, RowFormatter
from .properties import get_property
from .schema import ENTITIES, Entity

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"


@dataclass
class WrittenFile:
    entity: str
    name: str
    rows: int
    bytes: int
    sha256: str


def file_name(entity: str, job_id: int, version: int, start_time: Any) -> str:
    timestamp = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{entity}_job{job_id}_v{version}_{timestamp}.csv"


def job_dir(job: Any) -> Path:
    return Path(job.root_export_path) / str(job.pk)


def claim_job(job_id: int) -> bool:
    """Take the job for this node; False if it is not startable (delivery is at-least-once)."""
    from exports.models import ExportJob, JobStatus

    claimed = ExportJob.objects.filter(pk=job_id, status=JobStatus.STARTED, heartbeat__isnull=True).update(
        heartbeat=timezone.now(), node_id=settings.DATAPIPELINE_NODE_ID
    )
    return claimed == 1


def finish_job(
    job_id: int,
    status: str,
    *,
    statistics: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    now: Any = None,
) -> bool:
    """Move an active job to a terminal status; False if it was already terminal."""
    from exports.models import ACTIVE_STATUSES, ExportJob, JobStatus

    job = ExportJob.objects.get(pk=job_id)
    now = now or timezone.now()
    fields: dict[str, Any] = {"status": status, "completed_time": now, "heartbeat": now}
    if status == JobStatus.CANCELLED:
        fields["cancelled_time"] = now
    if statistics is not None:
        fields["statistics"] = statistics
    if errors:
        fields["errors"] = [*job.errors, *errors]
    return ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(**fields) == 1


def _opted_out_space_ids(keys: list[str]) -> list[int]:
    from wiki.models import Space

    return list(Space.objects.filter(key__in=keys).values_list("id", flat=True)) if keys else []


def export_entity(
    *,
    entity: Entity,
    job: Any,
    formatter: RowFormatter,
    writer: CsvFileWriter,
    control: ExportControl,
    opted_out_ids: list[int],
    batch_size: int,
) -> None:
    queryset = entity.queryset()
    if entity.date_field:
        queryset = queryset.filter(**{f"{entity.date_field}__gte": job.export_from})
    if entity.space_field and opted_out_ids:
        queryset = queryset.exclude(**{f"{entity.space_field}__in": opted_out_ids})
    control.start_entity(entity.name, queryset.count())
    queryset = queryset.order_by("pk").values_list(*formatter.sources)
    format_row = formatter.format
    last_pk = None
    while True:
        page = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
        rows = list(page[:batch_size])
        if not rows:
            break
        writer.write_rows(map(format_row, rows))
        writer.rows += len(rows)
        last_pk = rows[-1][0]
        control.after_batch(entity.name, len(rows))
        if len(rows) < batch_size:
            break


def write_manifest(directory: Path, manifest: dict[str, Any], *, file_mode: int) -> None:
    path = directory / MANIFEST_NAME
    partial = directory / f".{MANIFEST_NAME}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
    os.fchmod(fd, file_mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(partial, path)


def run_export(
    job_id: int,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop_check: Callable[[], str | None] | None = None,
) -> Any:
    """Run job ``job_id`` to a terminal status and return the job row.

    ``stop_check`` is asked between batches whether the worker is shutting down (a reason, or None).
    """
    from exports.models import ExportJob, JobStatus
    from wiki.services import profile_ensure_all

    from .paths import ensure_private_dir

    if not claim_job(job_id):
        job = ExportJob.objects.get(pk=job_id)
        if job.status == JobStatus.CANCELLATION_REQUESTED and job.heartbeat is None:
            finish_job(job_id, JobStatus.CANCELLED)  # cancelled before any worker took it
        else:
            log.warning("Export %s is %s; not running it again.", job_id, job.status)
        return ExportJob.objects.get(pk=job_id)

    job = ExportJob.objects.get(pk=job_id)
    group_readable = get_property("plugin.data.pipeline.export.group.readable")
    file_mode = 0o640 if group_readable else 0o600
    directory = job_dir(job)
    statistics: dict[str, Any] = {"exportedEntities": 0, "writtenRows": 0, "entities": {}}
    files: list[WrittenFile] = []
    status, errors = JobStatus.COMPLETED, []
    interrupted: BaseException | None = None
    stage = f"creating the export directory {directory}"
    try:
        ensure_private_dir(directory, group_readable=group_readable)
        stage = "giving users without a profile their user key"
        profile_ensure_all()
        dialect = Dialect(
            preserve_line_breaks=get_property("plugin.data.pipeline.embedded.line.break.preserve"),
            line_break_escape=get_property("plugin.data.pipeline.embedded.line.break.escape.char"),
        )
        control = ExportControl(
            job_id=job.pk,
            export_dir=directory,
            throttle_ratio=get_property("plugin.data.pipeline.throttle.ratio"),
            minimum_free_gb=get_property("plugin.data.pipeline.minimum.usable.disk.space.after.export"),
            statistics=statistics,
            on_progress=on_progress,
            stop_check=stop_check,
        )
        if not job.forced_export:  # forceExport turned this pre-start check into a warning at the request
            stage = f"checking free disk space at {directory}"
            control.check_disk()
        batch_size = max(1, get_property("plugin.data.pipeline.export.batch.size"))
        opted_out_ids = _opted_out_space_ids(job.opted_out_spaces)
        for entity in ENTITIES:
            formatter = RowFormatter(entity, job.schema_version, dialect, settings.INSTANCE_URL)
            name = file_name(entity.name, job.pk, job.schema_version, job.start_time)
            stage = f"exporting {entity.name} to {directory / name}"
            started = time.monotonic()
            with CsvFileWriter(directory / name, formatter.header, file_mode=file_mode) as writer:
                arguments: dict[str, Any] = {
                    "entity": entity,
                    "job": job,
                    "formatter": formatter,
                    "writer": writer,
                    "control": control,
                    "opted_out_ids": opted_out_ids,
                    "batch_size": batch_size,
                }
                if pgcopy.usable(entity, job.schema_version):  # same bytes, formatted by PostgreSQL
                    pgcopy.export_entity(dialect=dialect, **arguments)
                else:
                    export_entity(**arguments)
                writer.commit()
            files.append(WrittenFile(entity.name, name, writer.rows, writer.bytes, writer.sha256))
            # Wall-clock seconds for the file (queries, formatting, writing, throttle pauses).
            statistics["entities"][entity.name]["seconds"] = round(time.monotonic() - started, 3)
            control.finish_entity(entity.name)
    except WorkerShutdown as exc:
        status = JobStatus.CANCELLED
        errors = [entry(KEY_UNEXPECTED, f"{exc} (node {settings.DATAPIPELINE_NODE_ID}, while {stage}).")]
    except ExportCancelled:
        status = JobStatus.CANCELLED
    except DiskSpaceLow as exc:
        status, errors = JobStatus.FAILED, [entry(exc.key, str(exc))]
    except Exception as exc:
        log.exception("Export %s failed while %s", job_id, stage)
        status = JobStatus.FAILED
        errors = [entry(KEY_UNEXPECTED, f"The export failed while {stage}: {type(exc).__name__}: {exc}")]
        log.debug("".join(traceback.format_exception(exc)))
    except BaseException as exc:  # SystemExit / KeyboardInterrupt / django-q2's timeout: the worker is stopping
        interrupted = exc
        if _is_task_timeout(exc):
            status = JobStatus.FAILED
            errors = [entry(KEY_UNEXPECTED, f"The export was stopped while {stage}: {exc} (Q_TIMEOUT).")]
        else:
            status = JobStatus.CANCELLED
            errors = [
                entry(
                    KEY_UNEXPECTED,
                    f"The export was cancelled because its worker shut down ({type(exc).__name__}) while {stage}.",
                )
            ]
    finally:
        _finish(job, directory, status, statistics, files, errors, file_mode)
    if interrupted is not None:
        raise interrupted
    return ExportJob.objects.get(pk=job_id)


def _outcome(status: str, files: list[WrittenFile]) -> dict[str, Any]:
    """What a reader of the manifest needs to know about an export that stopped early."""
    done = {f.entity for f in files}
    missing = [e.name for e in ENTITIES if e.name not in done]
    if not missing:
        message = f"The export ended {status}; every file listed is complete."
    else:
        message = (
            f"The export ended {status}; every file listed is complete. Not exported: {', '.join(missing)} "
            "(a file in progress is removed, never left under its final name)."
        )
    return {"status": status, "notExported": missing, "message": message}


def _is_task_timeout(exc: BaseException) -> bool:
    try:
        from django_q.exceptions import TimeoutException
    except ImportError:  # pragma: no cover - django-q2 is a requirement
        return False
    return isinstance(exc, TimeoutException)


def _finish(
    job: Any,
    directory: Path,
    status: str,
    statistics: dict[str, Any],
    files: list[WrittenFile],
    errors: list[dict[str, str]],
    file_mode: int,
) -> None:
    """Write the manifest, then end the job: whoever sees the terminal status finds the manifest."""
    now = timezone.now()
    job.refresh_from_db()
    finished = False
    if job.is_active:
        job.status, job.completed_time, job.heartbeat = status, now, now
        if status == "CANCELLED":
            job.cancelled_time = now
        job.statistics = statistics
        job.errors = [*job.errors, *errors]
        problem = _write_job_manifest(job, directory, files, file_mode)
        if problem and status == "COMPLETED":
            status, job.status = "FAILED", "FAILED"
        if problem:
            errors = [*errors, problem]
        finished = finish_job(job.pk, status, statistics=statistics, errors=errors, now=now)
    if not finished:  # ended meanwhile (reaped, cancelled at once): the manifest tells what really happened
        job.refresh_from_db()
        log.warning("Export %s was already %s when its runner ended as %s.", job.pk, job.status, status)
        _write_job_manifest(job, directory, files, file_mode)


def _write_job_manifest(job: Any, directory: Path, files: list[WrittenFile], file_mode: int) -> dict[str, str] | None:
    """Write ``manifest.json``; return an error entry instead of raising, so the job always ends."""
    from exports.selectors import job_to_dict

    if not directory.is_dir():
        return None
    manifest = {
        "manifestVersion": 1,
        "job": job_to_dict(job),
        "files": [
            {
                "file": f.name,
                "entity": f.entity,
                "schemaVersion": job.schema_version,
                "rows": f.rows,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
        "outcome": _outcome(job.status, files),
    }
    try:
        write_manifest(directory, manifest, file_mode=file_mode)
    except OSError as exc:
        log.exception("Export %s: could not write its manifest", job.pk)
        return entry(KEY_UNEXPECTED, f"The export could not write {directory / MANIFEST_NAME}: {exc}")
    return None
