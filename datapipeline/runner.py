"""Run one export: stream every entity into its file (CSV or Parquet), then hand the outcome back (engine layer).

The job directory also gets the loader kit (``loaders/``, ``datapipeline.loaders``) for the job's
files, format, schema version and CSV dialect, written before the files.

The runner streams each entity in keyset batches by primary key with ``values_list`` (flat
memory, no per-row queries, no long transaction). It knows no job row: ``exports.jobs`` claims
the job, passes it in as an ``ExportSpec`` with ``JobHooks`` (progress, heartbeat, finish), and
writes the manifest and the terminal status when ``hooks.finish`` is called.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from .control import DiskSpaceLow, ExportCancelled, ExportControl, WorkerShutdown
from .csvfile import CsvFileWriter
from .engine import export_dataset
from .errors import KEY_EXPORT_PATH_INVALID, KEY_UNEXPECTED, InvalidParameter, entry
from .formatting import Dialect
from .heartbeat import Heartbeat
from .incremental import Increment, deleted_keys
from .isotime import iso_utc
from .jobfiles import WrittenFile, count_complete_files, deleted_file_name, file_name, job_dir
from .jobstatus import JobStatus
from .loaders import kit_for, write_loader_files
from .memory import tune_for_export
from .paths import validate_export_path
from .properties import get_property
from .reconcile import (
    KEY_RECONCILE_FORCED,
    KEY_RECONCILE_SKIPPED,
    Reconciled,
    ReconcileRefused,
    ReconcileUnavailable,
    guard,
    missing_keys,
    reconcile,
)
from .registry import Dataset, datasets, opted_out_ids, prepare_all
from .safefiles import UnsafeExportDirectory, make_job_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSpec:
    """What the runner needs of a job, as plain values (the services read them from the job row)."""

    pk: int
    schema_version: int
    export_from: datetime
    start_time: datetime
    root_export_path: str
    forced_export: bool
    opted_out_spaces: Any  # the job's opt-out snapshot ({scope type: [keys]}; an old job's plain key list)
    # An incremental export: the rows changed since this instant, and the base job's opt-out snapshot.
    changes_since: datetime | None = None
    base_opted_out: Any = None
    file_format: str = "csv"  # csv | parquet
    # Reconcile keys (``datapipeline.reconcile``): the base chain's job directories, its FULL export first.
    reconcile_dirs: tuple[Path, ...] | None = None


@dataclass
class ExportResult:
    """How the export ended and what it left: handed to ``JobHooks.finish``, which ends the job."""

    status: str
    statistics: dict[str, Any]
    files: list[WrittenFile]
    errors: list[dict[str, str]]
    directory: Path | None  # the job's directory once this export created it; nothing is written elsewhere
    file_mode: int
    warnings: list[dict[str, str]] = field(default_factory=list)  # added to the job's


@dataclass(frozen=True)
class JobHooks:
    """The job's lifecycle as the runner sees it (``exports.jobs`` provides these)."""

    save_progress: Callable[[dict[str, Any]], str | None]  # store progress + heartbeat; answer the status
    beat: Callable[[], None]  # the heartbeat alone, from the heartbeat thread
    finish: Callable[[ExportResult], None]  # manifest first, then the terminal status


def run_export(
    job: ExportSpec,
    hooks: JobHooks,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop_check: Callable[[], str | None] | None = None,
) -> None:
    """Run the claimed job ``job`` to its end and hand the outcome to ``hooks.finish``.

    ``stop_check`` is asked between batches whether the worker is shutting down (a reason, or None).
    """
    group_readable = get_property("plugin.data.pipeline.export.group.readable")
    file_mode = 0o640 if group_readable else 0o600
    directory = job_dir(job)
    statistics: dict[str, Any] = {"exportedEntities": 0, "writtenRows": 0, "entities": {}}
    files: list[WrittenFile] = []
    status, errors = JobStatus.COMPLETED, []
    warnings: list[dict[str, str]] = []
    interrupted: BaseException | None = None
    stage = f"checking the export path {job.root_export_path}"
    heartbeat = Heartbeat(job.pk, beat=hooks.beat)
    ours: Path | None = None  # the job directory once this export has created it; nothing is written elsewhere
    try:
        tune_for_export()
        heartbeat.start()
        validate_export_path(job.root_export_path)  # again: the filesystem may have changed since it was set
        stage = f"creating the export directory {directory}"
        make_job_dir(directory.parent, directory.name, mode=0o750 if group_readable else 0o700)
        ours = directory
        stage = "preparing the datasets"
        prepare_all()
        dialect = Dialect.from_properties()
        control = ExportControl(
            save_progress=hooks.save_progress,
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
        opted_out = opted_out_ids(job.opted_out_spaces)
        increment = None
        reconciled: dict[str, Reconciled] = {}
        if job.changes_since is not None:
            increment = Increment(job.changes_since, job.start_time, job.base_opted_out)
            if job.reconcile_dirs is not None:
                stage = "reconciling the base chain's keys with the site's"
                reconciled, notes = _reconcile(job, opted_out)
                warnings.extend(notes)
                if reconciled:  # not when the chain's files are gone (a warning says so)
                    statistics["reconciled"] = {r.dataset.name: {"keys": r.chain_keys, "missing": r.missing}
                                            for r in reconciled.values()}  # fmt: skip
        names = {
            e.name: file_name(e.name, job.pk, job.schema_version, job.start_time, job.file_format) for e in datasets()
        }
        stage = f"writing the loader kit into {directory}"
        kit = kit_for(
            file_format=job.file_format,
            schema_version=job.schema_version,
            datasets=[(e.name, names[e.name], e.typed_columns(job.schema_version)) for e in datasets()],
            preserve_line_breaks=dialect.preserve_line_breaks,
            line_break_escape=dialect.line_break_escape,
        )
        write_loader_files(directory, kit, dir_mode=0o750 if group_readable else 0o700, file_mode=file_mode)
        for entity in datasets():
            name = names[entity.name]
            stage = f"exporting {entity.name} to {directory / name}"
            started = time.monotonic()
            with _open_file(directory / name, entity, job, file_mode) as writer:
                export_dataset(
                    entity,
                    version=job.schema_version,
                    dialect=dialect,
                    export_from=job.export_from,
                    opted_out=opted_out,
                    writer=writer,
                    control=control,
                    batch_size=batch_size,
                    increment=increment,
                    typed=job.file_format == "parquet",
                )
                writer.commit()
            files.append(WrittenFile(entity.name, name, writer.rows, writer.bytes, writer.sha256))
            if increment is not None:
                name = deleted_file_name(entity.name, job.pk, job.schema_version, job.start_time)
                stage = f"writing the deleted keys of {entity.name} to {directory / name}"
                gone = reconciled.get(entity.name)
                files.append(_write_deleted(entity, directory / name, file_mode, job, opted_out, increment, gone))
                statistics["entities"][entity.name]["deletedKeys"] = files[-1].rows
            # Wall-clock seconds for the file (queries, formatting, writing, throttle pauses).
            statistics["entities"][entity.name]["seconds"] = round(time.monotonic() - started, 3)
            control.finish_entity(entity.name)
    except WorkerShutdown as exc:
        status = JobStatus.CANCELLED
        errors = [entry(KEY_UNEXPECTED, f"{exc} (node {settings.DATAPIPELINE_NODE_ID}, while {stage}).")]
    except ExportCancelled:
        status = JobStatus.CANCELLED
    except ReconcileRefused as exc:
        status, errors = JobStatus.FAILED, [entry(exc.key, str(exc))]
    except DiskSpaceLow as exc:
        status, errors = JobStatus.FAILED, [entry(exc.key, str(exc))]
    except InvalidParameter as exc:  # the export path is no longer safe
        status, errors = JobStatus.FAILED, [entry(KEY_EXPORT_PATH_INVALID, exc.message)]
    except UnsafeExportDirectory as exc:
        status, errors = JobStatus.FAILED, [entry(KEY_EXPORT_PATH_INVALID, str(exc))]
    except Exception as exc:
        log.exception("Export %s failed while %s", job.pk, stage)
        status = JobStatus.FAILED
        errors = [entry(KEY_UNEXPECTED, f"The export failed while {stage}: {type(exc).__name__}: {exc}")]
        log.debug("".join(traceback.format_exception(exc)))
    except BaseException as exc:  # SystemExit / KeyboardInterrupt / django-q2's timeout: the worker is stopping
        interrupted = exc
        _discard_interrupted_connection()
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
        heartbeat.stop()
        count_complete_files(statistics, files)  # a file removed unfinished counts no rows
        hooks.finish(ExportResult(status, statistics, files, errors, ours, file_mode, warnings))
    if interrupted is not None:
        raise interrupted


def _reconcile(job: ExportSpec, opted_out: Any) -> tuple[dict[str, Reconciled], list[dict[str, str]]]:
    """Each dataset's keys gone around the change log (``datapipeline.reconcile``), guarded; the warnings."""
    try:
        found = {e.name: reconcile(e, job.reconcile_dirs or (), job.export_from, opted_out) for e in datasets()}
    except ReconcileUnavailable as exc:
        return {}, [entry(KEY_RECONCILE_SKIPPED, f"Keys not reconciled: {exc}.")]
    share = get_property("plugin.data.pipeline.incremental.reconcile.max.deleted.share")
    return found, [entry(KEY_RECONCILE_FORCED, m) for m in guard(list(found.values()), share, job.forced_export)]


def _write_deleted(
    entity: Any,
    path: Path,
    file_mode: int,
    job: ExportSpec,
    opted_out: Any,
    increment: Increment,
    reconciled: Reconciled | None = None,
) -> WrittenFile:
    """The dataset's keys gone since the base, with when (``<key column>,deleted_date``; header even if none);
    then those a reconciliation found gone without a change-log entry, dated at the job's start."""
    written = set()  # the change log's keys (as many as changed): a reconciled key is not written twice
    with CsvFileWriter(path, [entity.key, "deleted_date"], file_mode=file_mode) as writer:
        for key, at in deleted_keys(entity, job.export_from, opted_out, increment):
            writer.write_rows([(key, iso_utc(at, timespec="milliseconds"))])
            writer.rows += 1
            written.add(key)
        for key in missing_keys(reconciled) if reconciled is not None else ():
            if key not in written:
                writer.write_rows([(key, iso_utc(job.start_time, timespec="milliseconds"))])
                writer.rows += 1
        writer.commit()
    return WrittenFile(entity.name, path.name, writer.rows, writer.bytes, writer.sha256, content="deletedKeys")


def _open_file(path: Path, entity: Dataset, job: ExportSpec, file_mode: int) -> Any:
    """The entity's file writer for the job's format."""
    if job.file_format == "parquet":
        from .parquetfile import ParquetFileWriter  # pyarrow is loaded by Parquet exports only

        compression = get_property("plugin.data.pipeline.parquet.compression")
        columns = entity.typed_columns(job.schema_version)
        return ParquetFileWriter(path, columns, compression=compression, file_mode=file_mode)
    return CsvFileWriter(path, entity.header(job.schema_version), file_mode=file_mode)


def _discard_interrupted_connection() -> None:
    """Close this thread's database connection if an exception may have cut a query in half.

    An exception raised from a signal handler (Ctrl-C, django-q2's timeout) can land while the
    driver waits for a result; the connection then still has that command in progress and the
    next query fails ("another command is already in progress"). Ending the job needs a working
    connection, so drop this one (Django opens a new one); inside a transaction, leave it to the
    ``atomic`` block, which closes a connection it cannot roll back.
    """
    if not connection.in_atomic_block:
        connection.close()


def _is_task_timeout(exc: BaseException) -> bool:
    try:
        from django_q.exceptions import TimeoutException
    except ImportError:  # pragma: no cover - django-q2 is a requirement
        return False
    return isinstance(exc, TimeoutException)
