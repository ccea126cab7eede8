"""Reading jobs: the compatible JSON body of a job, the current job, the history."""

from __future__ import annotations

from typing import Any

from datapipeline.isotime import iso_utc
from datapipeline.registry import scope_keys
from datapipeline.schema import version_info

from .models import ACTIVE_STATUSES, ExportJob


def job_to_dict(job: ExportJob) -> dict[str, Any]:
    """The job body of the REST API (compatible field names), also shown by the admin and commands."""
    info = version_info(job.schema_version)
    statistics = job.statistics or {}
    return {
        "jobId": job.pk,
        "nodeId": job.node_id,
        "status": job.status,
        "startTime": iso_utc(job.start_time),
        "completedTime": iso_utc(job.completed_time),
        "cancelledTime": iso_utc(job.cancelled_time),
        "schema": {"version": job.schema_version, "status": info.status if info else "REMOVED"},
        "mode": job.mode,
        "config": {
            "exportFrom": iso_utc(job.export_from),
            "forcedExport": job.forced_export,
            "sinceJobId": job.since_job_id,
            "changesSince": iso_utc(job.changes_since),
            "format": job.file_format,
            "reconcile": job.reconcile,
        },
        "statistics": {
            "exportedEntities": statistics.get("exportedEntities", 0),
            "writtenRows": statistics.get("writtenRows", 0),
            "entities": statistics.get("entities", {}),
        },
        "warnings": job.warnings,
        "errors": job.errors,
        "rootExportPath": job.root_export_path,
        "optedOutEntities": [{"type": t, "identifiers": keys} for t, keys in scope_keys(job.opted_out_spaces).items()],
        "trigger": job.trigger,
        "heartbeat": iso_utc(job.heartbeat),
    }


def job_active() -> ExportJob | None:
    return ExportJob.objects.filter(status__in=ACTIVE_STATUSES).order_by("-id").first()


def job_current_or_last() -> ExportJob | None:
    return job_active() or ExportJob.objects.order_by("-id").first()


def job_list(*, offset: int = 0, limit: int = 50) -> tuple[list[ExportJob], bool]:
    """A page of jobs, newest first, and whether it is the last page."""
    jobs = list(ExportJob.objects.order_by("-id")[offset : offset + limit + 1])
    return jobs[:limit], len(jobs) <= limit
