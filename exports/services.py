"""Starting an export (services): validate through the input layer, pre-check, create the job.

The job's lifecycle after that (claim, progress, cancel, reap, finish) is ``exports.jobs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from datapipeline.control import disk_space_problem
from datapipeline.errors import (
    KEY_PRE_VALIDATION_FAILED,
    KEY_SCHEMA_DEPRECATED,
    entry,
)
from datapipeline.paths import export_root
from datapipeline.properties import get_property
from datapipeline.schema import DEFAULT_VERSION, version_info
from optout.services import optout_snapshot

from .audit import audit_record
from .inputs import DEFAULT_WINDOW, parse_export_format, parse_export_mode, parse_schema_version, parse_start_from_date
from .jobs import job_base, job_create, job_reconcile_due, job_record_refused
from .models import ExportJob, ExportMode, Trigger

KEY_NO_BASE = "export.incremental.no.base"


def export_start(
    *,
    from_date: str | datetime | None = None,
    schema_version: object = None,
    file_format: object = None,
    force_export: bool = False,
    mode: object = None,
    reconcile: bool = False,
    trigger: str = Trigger.COMMAND,
    user: Any = None,
    enqueue: bool = True,
) -> ExportJob:
    """Validate, create the job under the one-active-export constraint and queue it.

    Raises InvalidParameter (nothing written) or ExportAlreadyRunning. A job whose
    pre-validation fails is returned FAILED (not queued) unless ``force_export``.
    """
    parsed_from, warnings = parse_start_from_date(from_date)
    version = parse_schema_version(schema_version)
    incremental = _incremental_fields(parse_export_mode(mode), version, warnings, reconcile)
    chosen_format = parse_export_format(file_format)
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

    fields = {"trigger": trigger, "schema_version": version, "export_from": parsed_from, "warnings": warnings}
    fields["file_format"] = chosen_format
    fields.update(forced_export=bool(force_export), root_export_path=str(root), opted_out_spaces=optout_snapshot())
    fields.update(incremental)
    job = job_create(problems=problems, user=user, enqueue=enqueue, **fields)
    audit_record(action="export.start", user=user, via=trigger, jobId=job.pk, status=job.status)
    return job


def _incremental_fields(
    mode: str, version: int, warnings: list[dict[str, str]], reconcile: bool = False
) -> dict[str, Any]:
    """The job's mode fields: an incremental export's base is the last COMPLETED export of its schema
    version; without one it runs FULL and its warnings say so."""
    if mode != ExportMode.INCREMENTAL:
        return {"mode": ExportMode.FULL}
    base = job_base(version)
    if base is None:
        warnings.append(
            entry(
                KEY_NO_BASE,
                f"No completed export of schema version {version} to count changes from: "
                "this incremental export runs as a full export.",
            )
        )
        return {"mode": ExportMode.FULL}
    lookback = timedelta(seconds=get_property("plugin.data.pipeline.incremental.lookback.seconds"))
    every = get_property("plugin.data.pipeline.incremental.reconcile.every")
    return {
        "mode": ExportMode.INCREMENTAL,
        "since_job_id": base.pk,
        "changes_since": base.start_time - lookback,
        "reconcile": bool(reconcile) or job_reconcile_due(base.pk, every),
    }


def export_record_refused(
    *,
    trigger: str,
    key: str,
    message: str,
    from_date: datetime | None = None,
    schema_version: int | None = None,
    file_format: str = "csv",
    user: Any = None,
) -> ExportJob:
    """Record an export that was refused before it started (e.g. a scheduled run while another
    export was active) as a FAILED job carrying the reason, so the history shows it.

    A FAILED row never conflicts with the one-active-job constraint.
    """
    now = timezone.now()
    root, _custom = export_root()
    job = job_record_refused(
        error=entry(key, message),
        user=user,
        trigger=trigger,
        schema_version=schema_version or DEFAULT_VERSION,
        file_format=file_format,
        export_from=from_date or now - DEFAULT_WINDOW,
        root_export_path=str(root),
    )
    audit_record(action="export.start", user=user, via=trigger, outcome="refused", jobId=job.pk, reason=message)
    return job
