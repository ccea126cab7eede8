"""The django-q2 tasks: thin, they load the job and call the runner or the services."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from datapipeline.errors import KEY_UNEXPECTED, entry
from datapipeline.runner import finish_job, run_export
from datapipeline.shutdown import ShutdownWatch

log = logging.getLogger(__name__)


def run_export_task(job_id: int) -> str:
    """Run one export in a qcluster worker; a cluster shutdown cancels it between batches."""
    watch = ShutdownWatch.for_current_worker()
    if watch.in_cluster:
        with watch.signals_handled():
            job = run_export(job_id, stop_check=watch.reason)
    else:  # sync mode or a plain call: nobody to signal us but the caller
        job = run_export(job_id)
    if watch.received_signal:
        # The SIGTERM was meant for this process (its sentinel may already be gone): the job is
        # ended, so leave now instead of waiting on a task queue nobody feeds any more.
        raise SystemExit(f"Export {job_id} ended {job.status}; worker exiting on {watch.signal_name}.")
    return f"Export {job_id}: {job.status}"


def export_task_done(task: Any) -> None:
    """Result hook: a task that died before the runner could end its job ends the job FAILED.

    The runner ends every job itself; this covers what happens around it (the task function
    cannot be imported, the database went away while claiming, ...), so a job never hangs
    until the heartbeat limit for an error the worker already knows about.
    """
    from exports.models import ACTIVE_STATUSES, ExportJob

    if task.success or not task.args:
        return
    job_id = task.args[0]
    job = ExportJob.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).first()
    # Only a job no other worker is running: never claimed, or claimed on this node.
    if job is None or (job.heartbeat is not None and job.node_id != settings.DATAPIPELINE_NODE_ID):
        return
    # django-q2 stores a failure as "<error> : <traceback>"; the error is what the user needs.
    lines = str(task.result or "").split(" : Traceback")[0].strip().splitlines()
    detail = lines[0] if lines else "no result"
    finish_job(
        job_id,
        "FAILED",
        errors=[entry(KEY_UNEXPECTED, f"The export task failed in the worker on node {job.node_id}: {detail}")],
    )
    log.error("Export %s failed in its task: %s", job_id, detail)


def reap_stale_exports_task() -> str:
    """Scheduled every minute: end exports whose worker stopped sending heartbeats."""
    from exports.services import job_reap_stale

    reaped = job_reap_stale()
    return f"Reaped stale exports: {reaped}" if reaped else "No stale export."
