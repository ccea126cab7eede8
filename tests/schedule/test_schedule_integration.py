"""A real qcluster fires the schedule schedule_set armed, and the scheduled export completes.

PostgreSQL only: the cluster is a separate process and must see the test database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from datapipeline.isotime import iso_utc
from exports.models import ExportJob, JobStatus
from exports.schedules import SCHEDULE_NAME, WEEKDAYS, schedule_set, schedule_to_dict, server_zone
from wiki.models import Content, Profile, Space

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ZONE = "Europe/Berlin"
LEAD = timedelta(seconds=20)  # the schedule is set this far ahead
# django-q2's guard loop calls the scheduler about every 30 s; then two tasks run (ours, the export).
WAIT_SECONDS = 180


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def tiny_site() -> None:
    user = User.objects.create_user("sched-it", "sched-it@example.com", "pw", first_name="Sched")
    Profile.objects.create(user=user, full_name="Sched It")
    space = Space.objects.create(key="SCHED", name="Scheduled", creator=user)
    for i in range(3):
        Content.objects.create(space=space, title=f"Page {i}", body="<p>hello</p>", creator=user, last_modifier=user)


@pytest.fixture
def qcluster(settings, shared_home: Path, tmp_path: Path):
    """Start ``manage.py qcluster`` on the test database; kill its process group afterwards."""
    log_path = tmp_path / "qcluster.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "Q_CLUSTER_NAME": f"schedule-it-{uuid.uuid4().hex[:8]}",
        "Q_POLL": "0.2",
        "Q_WORKERS": "1",
        "TIME_ZONE": settings.TIME_ZONE,
        "DATAPIPELINE_SHARED_HOME": str(shared_home),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "qcluster"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log_path
    finally:
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_fires_the_schedule_and_the_export_completes(on_postgres, settings, tiny_site, request):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: the qcluster process must share the test database (SQLite's is in memory)")
    settings.TIME_ZONE = ZONE
    target = (timezone.now() + LEAD).astimezone(server_zone()).replace(microsecond=0)
    schedule = schedule_set(
        days=[WEEKDAYS[target.weekday()]],
        repeat_interval_weeks=1,
        time=target.strftime("%H:%M:%S"),
        rolling_window_days=7,
    )
    assert schedule_to_dict(schedule)["nextRunTime"] == iso_utc(target)
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == target

    process, log_path = request.getfixturevalue("qcluster")
    deadline = time.monotonic() + WAIT_SECONDS
    job = None
    while time.monotonic() < deadline:
        job = ExportJob.objects.filter(trigger="schedule").first()
        if job is not None and job.is_terminal:
            break
        assert process.poll() is None, "qcluster exited:\n" + log_path.read_text(errors="replace")[-4000:]
        time.sleep(1)
    log = log_path.read_text(errors="replace")[-4000:]
    assert job is not None, f"no scheduled export within {WAIT_SECONDS} s; qcluster log:\n{log}"
    assert job.status == JobStatus.COMPLETED, f"{job.status} {job.errors}\n{log}"

    # It ran at (not before) the scheduled time, with the rolling window computed at the run.
    assert job.start_time >= target
    week_before = (job.start_time.astimezone(server_zone()) - timedelta(days=7)).replace(second=0, microsecond=0)
    assert week_before - timedelta(minutes=1) <= job.export_from <= week_before
    files = sorted(p.name for p in (Path(job.root_export_path) / str(job.pk)).glob("*.csv"))
    assert any(name.startswith("pages_job") for name in files), files
    pages_csv = next((Path(job.root_export_path) / str(job.pk)).glob("pages_job*.csv"))
    assert pages_csv.read_text(encoding="utf-8").count("Page ") >= 3

    # The task re-armed the one trigger for next week, same wall-clock time.
    trigger = Schedule.objects.get(name=SCHEDULE_NAME)
    assert trigger.repeats == 1
    assert trigger.next_run == target + timedelta(days=7)  # same-zone arithmetic: same wall-clock time
    assert ExportJob.objects.count() == 1
