"""The django-q2 tasks (interfaces): thin, each calls one service of ``exports.jobs``."""

from __future__ import annotations

from typing import Any

from datapipeline.shutdown import ShutdownWatch

from .housekeeping import changelog_purge
from .jobs import job_reap_stale, job_run, job_task_failed


def run_export_task(job_id: int) -> str:
    """Run one export in a qcluster worker; a cluster shutdown cancels it between batches."""
    watch = ShutdownWatch.for_current_worker()
    if watch.in_cluster:
        with watch.signals_handled():
            job = job_run(job_id, stop_check=watch.reason)
    else:  # sync mode or a plain call: nobody to signal us but the caller
        job = job_run(job_id)
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
    if task.success or not task.args:
        return
    # django-q2 stores a failure as "<error> : <traceback>"; the error is what the user needs.
    lines = str(task.result or "").split(" : Traceback")[0].strip().splitlines()
    job_task_failed(task.args[0], lines[0] if lines else "no result")


def reap_stale_exports_task() -> str:
    """Scheduled every minute: end exports whose worker stopped sending heartbeats."""
    reaped = job_reap_stale()
    purged = changelog_purge()  # change-log entries no future incremental export can use
    done = f"Reaped stale exports: {reaped}" if reaped else "No stale export."
    return f"{done} Purged {purged} change-log entries." if purged else done
