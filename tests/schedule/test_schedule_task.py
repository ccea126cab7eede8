"""run_scheduled_export: due and not-due runs, the data window, a busy pipeline, re-arming.

The scheduler tests drive django-q2's own scheduler step (the function a qcluster calls about
every 30 s) under a frozen clock, read the task it queued from the ORM broker and run it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from schedule_clock import frozen, local

from datapipeline.errors import KEY_ALREADY_RUNNING, KEY_SCHEMA_MISSING
from exports.models import AuditEntry, ExportJob, ExportSchedule, JobStatus
from exports.schedules import SCHEDULE_NAME, run_scheduled_export, schedule_set
from exports.services import export_start

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
SAVED = local(BERLIN, 2026, 6, 4, 15, 0)  # Thursday
SAT = local(BERLIN, 2026, 6, 6, 2, 0)  # the first run of a sat+mon 02:00 schedule
MON = local(BERLIN, 2026, 6, 8, 2, 0)


@pytest.fixture(autouse=True)
def berlin(zone):
    zone(BERLIN)


def set_schedule(**kwargs):
    kwargs.setdefault("days", ["sat", "mon"])
    kwargs.setdefault("repeat_interval_weeks", 1)
    kwargs.setdefault("time", "02:00:00")
    with frozen(SAVED):
        return schedule_set(**kwargs)


def trigger() -> Schedule:
    return Schedule.objects.get(name=SCHEDULE_NAME)


def fire(at: datetime, scheduled_for: datetime | None) -> str:
    """Run the task at ``at`` as django-q2 would, with the armed instant it was meant for."""
    with frozen(at):
        return run_scheduled_export(scheduled_for.isoformat() if scheduled_for else None)


def test_a_due_run_starts_an_export_through_the_start_service():
    set_schedule(schema_version=1)
    outcome = fire(SAT + timedelta(seconds=20), SAT)

    job = ExportJob.objects.get()
    assert f"export {job.pk}" in outcome
    assert job.status == JobStatus.STARTED
    assert job.trigger == "schedule"
    assert job.schema_version == 1
    # The default rolling window: the last 12 months, computed at the run, to the minute.
    assert job.export_from == local(BERLIN, 2025, 6, 6, 2, 0)
    assert AuditEntry.objects.filter(action="export.start", via="schedule", outcome="ok").count() == 1


def test_the_task_re_arms_the_trigger_for_the_following_run():
    set_schedule()
    Schedule.objects.filter(name=SCHEDULE_NAME).update(repeats=0)  # as django-q2 leaves it after firing
    fire(SAT + timedelta(seconds=20), SAT)
    assert trigger().repeats == 1
    assert trigger().next_run == MON


def test_a_run_in_an_off_week_starts_nothing_and_re_arms():
    set_schedule(days=["sat"], repeat_interval_weeks=2)
    off_week = SAT + timedelta(days=7)
    outcome = fire(off_week + timedelta(seconds=5), off_week)
    assert "Not a due run" in outcome
    assert not ExportJob.objects.exists()
    assert trigger().next_run == SAT + timedelta(days=14)

    fire(SAT + timedelta(days=14, seconds=5), SAT + timedelta(days=14))
    assert ExportJob.objects.count() == 1


def test_a_trigger_left_from_an_edited_schedule_starts_nothing():
    set_schedule(days=["sat"])
    with frozen(SAVED):
        schedule_set(days=["sun"], repeat_interval_weeks=1, time="05:00:00")
    fire(SAT + timedelta(seconds=5), SAT)  # a task queued before the edit
    assert not ExportJob.objects.exists()
    assert trigger().next_run == local(BERLIN, 2026, 6, 7, 5, 0)


def test_rolling_window_in_days():
    set_schedule(rolling_window_days=30)
    fire(SAT + timedelta(seconds=42), SAT)
    assert ExportJob.objects.get().export_from == local(BERLIN, 2026, 5, 7, 2, 0)


def test_rolling_window_in_months_clamps_to_the_month_end(zone):
    with frozen(local(BERLIN, 2026, 3, 30, 12, 0)):
        schedule_set(days=["tue"], repeat_interval_weeks=1, time="08:15:30", rolling_window_months=1)
    fire(local(BERLIN, 2026, 3, 31, 8, 15, 45), local(BERLIN, 2026, 3, 31, 8, 15, 30))
    assert ExportJob.objects.get().export_from == local(BERLIN, 2026, 2, 28, 8, 15)


def test_absolute_from_date_is_used_as_saved():
    set_schedule(from_date="2026-01-31T00:00:00Z")
    fire(SAT + timedelta(seconds=5), SAT)
    assert ExportJob.objects.get().export_from == datetime.fromisoformat("2026-01-31T00:00:00+00:00")


def test_a_run_while_an_export_is_active_records_a_failed_job_saying_so():
    set_schedule()
    with frozen(SAT - timedelta(minutes=30)):
        running = export_start(trigger="api", enqueue=False)
    ExportJob.objects.filter(pk=running.pk).update(heartbeat=SAT + timedelta(seconds=15))  # its worker is alive
    outcome = fire(SAT + timedelta(seconds=20), SAT)

    running.refresh_from_db()
    assert running.status == JobStatus.STARTED  # untouched
    refused = ExportJob.objects.exclude(pk=running.pk).get()
    assert refused.status == JobStatus.FAILED
    assert refused.trigger == "schedule"
    assert refused.completed_time is not None
    assert refused.errors == [
        {
            "key": KEY_ALREADY_RUNNING,
            "message": (
                f"Scheduled export for 2026-06-06T02:00:00+02:00 skipped: export {running.pk} was running "
                "(status STARTED); only one export can run at a time."
            ),
        }
    ]
    assert f"export {running.pk} was running" in outcome
    assert AuditEntry.objects.filter(action="export.start", via="schedule", outcome="refused").count() == 1
    assert trigger().next_run == MON  # the next run is still armed


def test_a_schedule_whose_schema_version_was_removed_records_a_failed_job():
    set_schedule()
    ExportSchedule.objects.update(schema_version=99)
    fire(SAT + timedelta(seconds=5), SAT)
    job = ExportJob.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.errors[0]["key"] == KEY_SCHEMA_MISSING
    assert "Schema version 99" in job.errors[0]["message"]


def test_a_disabled_schedule_starts_nothing_and_disarms():
    set_schedule()
    ExportSchedule.objects.update(enabled=False)
    assert "nothing to do" in fire(SAT + timedelta(seconds=5), SAT)
    assert not ExportJob.objects.exists()
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()


def test_no_schedule_starts_nothing():
    assert "nothing to do" in fire(SAT, None)
    assert not ExportJob.objects.exists()


def test_called_by_hand_without_an_intended_time_runs_only_near_a_due_time():
    set_schedule()
    fire(SAT + timedelta(minutes=3), None)
    assert ExportJob.objects.count() == 1
    ExportJob.objects.update(status=JobStatus.COMPLETED)
    fire(SAT + timedelta(hours=1), None)
    assert ExportJob.objects.count() == 1


# --- through django-q2's scheduler step ----------------------------------------------------------


@pytest.fixture
def orm_broker():
    if "orm" not in settings.Q_CLUSTER:
        pytest.skip("these tests read the queued task from django-q2's ORM broker (REDIS_URL is set)")
    from django_q.brokers import get_broker

    return get_broker()


def queued_tasks() -> list[dict]:
    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("pk")]


def run_queued(task: dict) -> str:
    kwargs = {k: v for k, v in task["kwargs"].items() if k != "q_options"}
    assert task["func"] == "exports.schedules.run_scheduled_export"
    return run_scheduled_export(*task["args"], **kwargs)


# transaction=True: the scheduler step closes "old" connections, as in a real cluster, which
# would end the wrapping transaction of a plain django_db test on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_fires_the_trigger_once_and_the_task_re_arms_it(orm_broker):
    set_schedule()
    with frozen(SAT - timedelta(seconds=10)):
        scheduler(broker=orm_broker)
    assert queued_tasks() == []  # not yet

    with frozen(SAT + timedelta(seconds=25)):
        scheduler(broker=orm_broker)
        scheduler(broker=orm_broker)  # a second pass queues nothing more
        tasks = queued_tasks()
        assert len(tasks) == 1
        assert datetime.fromisoformat(tasks[0]["kwargs"]["scheduled_for"]) == SAT
        assert trigger().repeats == 0
        run_queued(tasks[0])
    assert ExportJob.objects.count() == 1
    assert trigger().repeats == 1 and trigger().next_run == MON
    assert queued_tasks()[-1]["func"] == "exports.tasks.run_export_task"  # the export, queued on commit


@pytest.mark.django_db(transaction=True)
def test_a_cluster_down_for_days_fires_one_late_run_not_a_backlog(orm_broker):
    set_schedule()
    back = local(BERLIN, 2026, 6, 12, 9, 0)  # Friday: Saturday's and Monday's runs were missed
    with frozen(back):
        scheduler(broker=orm_broker)
        tasks = queued_tasks()
        assert len(tasks) == 1
        run_queued(tasks[0])
        scheduler(broker=orm_broker)
    assert ExportJob.objects.count() == 1
    assert trigger().next_run == local(BERLIN, 2026, 6, 13, 2, 0)
    # Queued: the one schedule task and the export it started; no second schedule task.
    assert [t["func"] for t in queued_tasks()] == [
        "exports.schedules.run_scheduled_export",
        "exports.tasks.run_export_task",
    ]


def test_in_sync_mode_the_scheduler_runs_the_task_inline_and_the_trigger_stays_armed(
    orm_broker, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    set_schedule()
    monkeypatch.setattr(Conf, "SYNC", True)
    with frozen(SAT + timedelta(seconds=25)), django_capture_on_commit_callbacks(execute=True):
        scheduler(broker=orm_broker)
    job = ExportJob.objects.get()
    assert job.trigger == "schedule"
    assert job.status == JobStatus.COMPLETED  # the export itself ran inline too
    assert trigger().repeats == 1
    assert trigger().next_run == MON
