"""Reading jobs: the compatible JSON body of a job, the current job, the history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from datapipeline.schema import version_info

from .models import ACTIVE_STATUSES, ExportJob


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def job_to_dict(job: ExportJob) -> dict[str, Any]:
    """The job body of the REST API (compatible field names), also shown by the admin and commands."""
    info = version_info(job.schema_version)
    statistics = job.statistics or {}
    return {
        "jobId": job.pk,
        "nodeId": job.node_id,
        "status": job.status,
        "startTime": iso(job.start_time),
        "completedTime": iso(job.completed_time),
        "cancelledTime": iso(job.cancelled_time),
        "schema": {"version": job.schema_version, "status": info.status if info else "REMOVED"},
        "config": {"exportFrom": iso(job.export_from), "forcedExport": job.forced_export},
        "statistics": {
            "exportedEntities": statistics.get("exportedEntities", 0),
            "writtenRows": statistics.get("writtenRows", 0),
            "entities": statistics.get("entities", {}),
        },
        "warnings": job.warnings,
        "errors": job.errors,
        "rootExportPath": job.root_export_path,
        "optedOutEntities": [{"type": "SPACE", "identifiers": list(job.opted_out_spaces)}],
        "trigger": job.trigger,
        "heartbeat": iso(job.heartbeat),
    }


def job_active() -> ExportJob | None:
    return ExportJob.objects.filter(status__in=ACTIVE_STATUSES).order_by("-id").first()


def job_current_or_last() -> ExportJob | None:
    return job_active() or ExportJob.objects.order_by("-id").first()


def job_list(*, offset: int = 0, limit: int = 50) -> tuple[list[ExportJob], bool]:
    """A page of jobs, newest first, and whether it is the last page."""
    jobs = list(ExportJob.objects.order_by("-id")[offset : offset + limit + 1])
    return jobs[:limit], len(jobs) <= limit
