"""The task path in django-q2's sync mode: the same code a qcluster worker runs, in this process."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler

from datapipeline.shutdown import ShutdownWatch
from exports.configuration import property_set
from exports.housekeeping import REAPER_FUNC, REAPER_SCHEDULE_NAME, ensure_reaper_schedule
from exports.jobs import export_cancel, job_reap_stale, job_run
from exports.models import ExportJob, JobStatus
from exports.services import export_start
from exports.tasks import export_task_done, run_export_task

from .sitedata import build_site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_and_quick(settings):
    settings.DATAPIPELINE_NODE_ID = "node-sync-a"
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 30
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="0")


def _files(job: ExportJob) -> list[str]:
    directory = Path(job.root_export_path) / str(job.pk)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_export_start_runs_the_task_in_sync_mode_and_records_the_node(sync_q, django_capture_on_commit_callbacks):
    build_site(pages=7, comments=3, events=4)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.errors
    assert job.node_id == "node-sync-a"
    assert job.heartbeat is not None and job.completed_time is not None
    assert job.statistics["writtenRows"] == 3 + 2 + 7 + 3 + 4
    task = Task.objects.get(name=f"export-{job.pk}")
    assert task.success and task.result == f"Export {job.pk}: COMPLETED"
    assert "manifest.json" in _files(job)


def test_a_second_delivery_of_the_same_task_changes_nothing(sync_q, django_capture_on_commit_callbacks):
    build_site(pages=3)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start()
    job.refresh_from_db()
    before = (job.status, job.completed_time, job.heartbeat, job.statistics)
    manifest = Path(job.root_export_path) / str(job.pk) / "manifest.json"
    mtime = manifest.stat().st_mtime_ns

    assert run_export_task(job.pk) == f"Export {job.pk}: COMPLETED"

    job.refresh_from_db()
    assert (job.status, job.completed_time, job.heartbeat, job.statistics) == before
    assert manifest.stat().st_mtime_ns == mtime


def test_the_task_refuses_a_job_another_worker_already_runs():
    build_site(pages=3)
    job = export_start(enqueue=False)
    claimed_at = timezone.now() - timedelta(seconds=2)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=claimed_at, node_id="node-other")

    run_export_task(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.STARTED
    assert (job.heartbeat, job.node_id) == (claimed_at, "node-other")
    assert _files(job) == []


def test_cancel_before_a_worker_picks_the_job_up_ends_it_cancelled():
    build_site(pages=3)
    job = export_start(enqueue=False)
    assert export_cancel(job_id=job.pk).status == JobStatus.CANCELLATION_REQUESTED

    run_export_task(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.cancelled_time is not None
    assert _files(job) == []


def test_an_unwritable_export_directory_ends_the_job_failed_saying_what_failed(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    from datapipeline.models import ExportPath

    ExportPath.objects.create(path=str(blocker / "exports"))
    build_site(pages=2)
    job = export_start(enqueue=False)

    run_export_task(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    # The path is checked again when the export starts: it names the rule and the path.
    assert job.errors == [
        {
            "key": "export.path.invalid",
            "message": (
                f"The export path {blocker / 'exports'} is refused: it is not writable: {blocker} is not a directory."
            ),
        }
    ]


def test_a_failing_task_ends_its_job_failed_through_the_result_hook():
    job = export_start(enqueue=False)
    task = Task(
        name=f"export-{job.pk}",
        func="exports.tasks.run_export_task",
        args=(job.pk,),
        success=False,
        result="OperationalError: the database went away : Traceback (most recent call last): ...",
    )

    export_task_done(task)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.errors[-1]["key"] == "unexpected.exception"
    assert "OperationalError: the database went away" in job.errors[-1]["message"]
    assert "Traceback" not in job.errors[-1]["message"]


def test_heartbeat_moves_on_while_the_export_runs():
    build_site(pages=12)
    property_set(name="plugin.data.pipeline.export.batch.size", value="2")
    job = export_start(enqueue=False)
    seen = []

    def on_progress(_statistics):
        row = ExportJob.objects.values("heartbeat", "node_id", "status").get(pk=job.pk)
        seen.append(row)

    job_run(job.pk, on_progress=on_progress)

    assert len(seen) >= 10  # start and end of each of the five entities
    assert all(r["node_id"] == "node-sync-a" and r["status"] == JobStatus.STARTED for r in seen)
    beats = [r["heartbeat"] for r in seen]
    assert beats == sorted(beats) and beats[-1] > beats[0]


def test_a_cluster_stop_between_batches_ends_the_job_cancelled_with_the_reason():
    build_site(pages=10)
    property_set(name="plugin.data.pipeline.export.batch.size", value="1")
    job = export_start(enqueue=False)
    stop_event = multiprocessing.Event()
    watch = ShutdownWatch(stop_event)

    batches = []

    def stop_check():  # asked after every batch: 3 users, 2 spaces, then pages one by one
        batches.append(1)
        if len(batches) == 8:
            stop_event.set()  # what qcluster's SIGTERM handler does
        return watch.reason()

    job_run(job.pk, stop_check=stop_check)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.cancelled_time is not None
    assert "asked to stop" in job.errors[-1]["message"]
    assert "node-sync-a" in job.errors[-1]["message"]
    names = _files(job)
    assert any(n.startswith("users_") for n in names) and any(n.startswith("spaces_") for n in names)
    assert not any(n.startswith("pages_") or n.endswith(".partial") for n in names)
    manifest = json.loads((Path(job.root_export_path) / str(job.pk) / "manifest.json").read_text())
    assert manifest["outcome"]["status"] == "CANCELLED"
    assert manifest["outcome"]["notExported"] == ["pages", "comments", "analytics"]


def test_sigterm_while_handled_only_sets_a_flag_and_the_handler_is_restored():
    watch = ShutdownWatch(stop_event=None)
    before = signal.getsignal(signal.SIGTERM)
    with watch.signals_handled():
        assert watch.reason() is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert watch.reason() == "its worker received SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before
    assert watch.received_signal


def test_reaping_ends_a_job_whose_worker_went_silent_naming_node_and_last_heartbeat(settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 5
    job = export_start(enqueue=False)
    last = timezone.now() - timedelta(seconds=6)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=last, node_id="node-dead")

    assert job_reap_stale() == [job.pk]

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.completed_time is not None
    message = job.errors[-1]["message"]
    assert "node-dead" in message and last.isoformat(timespec="seconds") in message and "limit 5 s" in message
    assert export_start(enqueue=False).status == JobStatus.STARTED  # exports are free again


def test_reaping_leaves_a_live_job_alone_and_explains_a_job_nobody_picked_up(settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 5
    job = export_start(enqueue=False)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=2))
    assert job_reap_stale() == []

    ExportJob.objects.filter(pk=job.pk).update(heartbeat=None, start_time=timezone.now() - timedelta(seconds=9))
    assert job_reap_stale() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "No worker picked the export up within 5 s" in job.errors[-1]["message"]
    assert "qcluster" in job.errors[-1]["message"]


def test_a_new_export_request_reaps_the_stale_job_first(settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 5
    stale = export_start(enqueue=False)
    ExportJob.objects.filter(pk=stale.pk).update(heartbeat=timezone.now() - timedelta(seconds=60))

    fresh = export_start(enqueue=False)

    stale.refresh_from_db()
    assert stale.status == JobStatus.FAILED
    assert fresh.status == JobStatus.STARTED


def test_cancelling_a_job_with_a_dead_worker_ends_it_at_once(settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 5
    job = export_start(enqueue=False)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=60), node_id="node-dead")

    job = export_cancel(job_id=job.pk)

    assert job.status == JobStatus.CANCELLED and job.cancelled_time is not None
    assert "node-dead" in job.errors[-1]["message"]


def test_the_reaper_schedule_exists_once_and_the_scheduler_runs_it(sync_q, settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 5
    ensure_reaper_schedule()
    ensure_reaper_schedule()
    schedule = Schedule.objects.get(name=REAPER_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (REAPER_FUNC, Schedule.MINUTES, 1)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - timedelta(seconds=1))
    job = export_start(enqueue=False)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=60))

    scheduler()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped responding" in job.errors[-1]["message"]


def test_pre_validation_fails_at_once_when_the_disk_is_too_full_unless_forced(export_root):
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="1000000")

    job = export_start(enqueue=False)

    assert job.status == JobStatus.FAILED and job.completed_time is not None
    [error] = job.errors
    assert error["key"] == "export.pre.validation.failed"
    assert str(export_root) in error["message"] and "the minimum is 1000000 GB" in error["message"]
    assert " GB free" in error["message"] or " MB free" in error["message"]

    forced = export_start(enqueue=False, force_export=True)
    assert forced.status == JobStatus.STARTED
    assert [w["key"] for w in forced.warnings] == ["export.pre.validation.failed"]


def test_the_cluster_configuration_runs_a_long_export_exactly_once(settings):
    q = settings.Q_CLUSTER
    # A task is handed out again only after `retry` seconds; the worker is stopped after `timeout`.
    assert q["retry"] > q["timeout"] >= 3600
    assert q["max_attempts"] == 1  # a failed export is not retried
    assert q["ack_failures"] is True  # a failed export leaves the queue
    assert q["catch_up"] is False
    assert ("orm" in q) != ("redis" in q)


def test_a_worker_whose_sentinel_is_gone_stops_without_touching_the_stop_event():
    class DeadParent:
        def is_alive(self) -> bool:
            return False

    class LockedEvent:  # what a sentinel killed while holding the event's lock leaves behind
        def is_set(self) -> bool:
            raise AssertionError("would block for ever")

    watch = ShutdownWatch(LockedEvent(), DeadParent())
    assert watch.reason() == "the qcluster sentinel that ran its worker has gone"
