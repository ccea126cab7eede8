"""A real `manage.py qcluster` on PostgreSQL: completion, cancel, shutdown, crash recovery, races, disk guard."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from exports.configuration import export_path_set, property_set
from exports.jobs import export_cancel
from exports.models import ExportJob, JobStatus

from .conftest import HEARTBEAT_LIMIT
from .harness import BASE_DIR, manage_shell, wait_for
from .sitedata import build_site

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

START_EXPORT = (
    "from exports.services import export_start\n"
    "job = export_start(trigger='command')\n"
    "print('JOB', job.pk, job.status)\n"
)


TRY_START = (
    "from datapipeline.errors import PipelineError\n"
    "from exports.services import export_start\n"
    "try:\n"
    "    job = export_start(trigger='command')\n"
    "except PipelineError as exc:\n"
    "    print('REFUSED', exc.key)\n"
    "else:\n"
    "    print('JOB', job.pk, job.status)\n"
)


def start_export_from_another_process(env: dict[str, str]) -> int:
    result = manage_shell(env, START_EXPORT)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("JOB "))
    _, job_id, status = line.split()
    assert status == JobStatus.STARTED
    return int(job_id)


def job(job_id: int) -> ExportJob:
    return ExportJob.objects.get(pk=job_id)


def wait_status(job_id: int, statuses: set[str], *, timeout: float) -> ExportJob:
    return wait_for(
        lambda: (j := job(job_id)).status in statuses and j,
        timeout=timeout,
        what=f"export {job_id} to become {' or '.join(sorted(statuses))} (now {job(job_id).status})",
        interval=0.1,
    )


def wait_exporting_pages(job_id: int, *, timeout: float = 60) -> ExportJob:
    """Until the worker is writing pages: users and spaces are finished files by then."""

    def writing_pages() -> ExportJob | None:
        row = job(job_id)
        assert row.status == JobStatus.STARTED, (row.status, row.errors)
        return row if row.statistics.get("entities", {}).get("pages", {}).get("rows", 0) >= 2 else None

    return wait_for(writing_pages, timeout=timeout, what=f"export {job_id} to be writing pages")


def job_files(job_row: ExportJob) -> dict[str, Path]:
    directory = Path(job_row.root_export_path) / str(job_row.pk)
    return {p.name: p for p in directory.iterdir()}


def manifest(job_row: ExportJob) -> dict:
    return json.loads((Path(job_row.root_export_path) / str(job_row.pk) / "manifest.json").read_text())


def assert_stopped_early_with_finished_files_intact(job_row: ExportJob) -> None:
    files = job_files(job_row)
    names = sorted(files)
    assert not any(n.endswith(".partial") for n in names), names
    assert not any(n.startswith(("pages_", "comments_", "analytics_")) for n in names), names
    data = manifest(job_row)
    assert data["job"]["status"] == job_row.status
    listed = {f["entity"]: f for f in data["files"]}
    assert set(listed) == {"users", "spaces"}
    for entry in listed.values():
        path = files[entry["file"]]
        assert path.stat().st_size == entry["bytes"]
        assert len(path.read_bytes().splitlines()) == entry["rows"] + 1  # header
    assert data["outcome"]["notExported"] == ["pages", "comments", "analytics"]


def test_an_export_queued_from_another_process_completes(start_cluster, cluster_env, fast_export):
    build_site(users=4, spaces=2, pages=25, comments=6, events=9)
    start_cluster()

    job_id = start_export_from_another_process(cluster_env)

    done = wait_status(job_id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=60)
    assert done.status == JobStatus.COMPLETED, done.errors
    assert done.node_id == "worker-node-1"  # the node that ran it, not the one that asked
    assert done.statistics["writtenRows"] == 4 + 2 + 25 + 6 + 9
    data = manifest(done)
    assert {f["entity"]: f["rows"] for f in data["files"]} == {
        "users": 4,
        "spaces": 2,
        "pages": 25,
        "comments": 6,
        "analytics": 9,
    }
    assert data["outcome"]["notExported"] == []


def test_cancel_mid_export_ends_it_cancelled_within_5_seconds_with_finished_files_intact(
    start_cluster, cluster_env, slow_export
):
    build_site(users=3, spaces=2, pages=150)
    start_cluster()
    job_id = start_export_from_another_process(cluster_env)
    wait_exporting_pages(job_id)

    requested = time.monotonic()
    assert export_cancel(job_id=job_id).status == JobStatus.CANCELLATION_REQUESTED
    done = wait_status(job_id, {JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.COMPLETED}, timeout=15)
    elapsed = time.monotonic() - requested

    assert done.status == JobStatus.CANCELLED, done.errors
    assert elapsed < 5, f"cancel took {elapsed:.1f} s"
    assert done.cancelled_time is not None and done.completed_time is not None
    assert_stopped_early_with_finished_files_intact(done)


@pytest.mark.parametrize("target", ["main process", "process group"])
def test_sigterm_to_the_cluster_ends_the_running_export_cancelled(start_cluster, cluster_env, slow_export, target):
    build_site(users=3, spaces=2, pages=150)
    cluster = start_cluster()
    job_id = start_export_from_another_process(cluster_env)
    wait_exporting_pages(job_id)

    sent = time.monotonic()
    if target == "main process":  # `kill <pid>`, docker stop, Kubernetes, systemd KillMode=mixed
        cluster.signal_main(signal.SIGTERM)
    else:  # systemd's default KillMode=control-group: every process gets it
        cluster.signal_group(signal.SIGTERM)
    done = wait_status(job_id, {JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.COMPLETED}, timeout=15)
    elapsed = time.monotonic() - sent

    assert done.status == JobStatus.CANCELLED, done.errors
    assert elapsed < 5, f"shutdown cancel took {elapsed:.1f} s"
    [reason] = done.errors
    assert reason["key"] == "unexpected.exception"
    if target == "main process":
        assert "asked to stop (SIGTERM or SIGINT)" in reason["message"]
    else:  # whichever the worker notices first: its own SIGTERM, or its sentinel dying of one
        assert "its worker received SIGTERM" in reason["message"] or "sentinel" in reason["message"]
    assert "worker-node-1" in reason["message"]
    assert_stopped_early_with_finished_files_intact(done)
    if target == "main process":
        # The cluster then stops by itself, not waiting for the export to run to its end.
        assert cluster.wait_exit(timeout=30) == 0, cluster.log()
    else:
        # The worker leaves too; django-q2's own main process may hang on a sentinel that died
        # holding a lock (its sentinel keeps SIGTERM's default action): the teardown kills it.
        wait_for(
            lambda: not any("qcluster" in " ".join(p.cmdline()) for p in cluster.processes() if p.pid != cluster.pid),
            timeout=20,
            what="the cluster's worker processes to exit",
        )


def test_kill_9_leaves_a_job_that_is_ended_automatically_then_a_new_export_completes(
    start_cluster, cluster_env, slow_export
):
    build_site(users=3, spaces=2, pages=150)
    first = start_cluster()
    job_id = start_export_from_another_process(cluster_env)
    wait_exporting_pages(job_id)

    first.signal_group(signal.SIGKILL)  # the machine is lost: no handler runs
    first.wait_exit(timeout=30)
    last_beat = job(job_id).heartbeat
    assert job(job_id).status == JobStatus.STARTED  # nothing could end it

    # Once the heartbeat is older than the limit, a cluster that starts ends the job by itself
    # (no export request needed; the every-minute schedule does the same on running clusters).
    wait_for(
        lambda: (timezone.now() - last_beat).total_seconds() > HEARTBEAT_LIMIT + 0.5,
        timeout=HEARTBEAT_LIMIT + 5,
        what="the heartbeat limit to pass",
    )
    start_cluster()
    reaped = wait_status(job_id, {JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.COMPLETED}, timeout=30)
    assert reaped.status == JobStatus.FAILED
    [error] = reaped.errors
    assert error["key"] == "unexpected.exception"
    assert "worker-node-1" in error["message"]
    assert last_beat.isoformat(timespec="seconds") in error["message"]
    assert f"limit {HEARTBEAT_LIMIT} s" in error["message"]
    assert_stopped_early_with_finished_files_intact(reaped)  # partial pages file removed, manifest written

    property_set(name="plugin.data.pipeline.export.batch.size", value="5000")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="0")
    new_id = start_export_from_another_process(cluster_env)
    new = wait_status(new_id, {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}, timeout=60)
    assert new.status == JobStatus.COMPLETED, new.errors
    assert new.node_id == "worker-node-2"


def test_after_kill_9_a_new_export_is_accepted_within_60_seconds_by_default(start_cluster, cluster_env, slow_export):
    """With the default heartbeat timeout: the worker writes a heartbeat every few seconds, a job
    silent for 30 s counts as dead, and the next export request ends it and is accepted."""
    default = "DATAPIPELINE_HEARTBEAT_TIMEOUT"
    env = {k: v for k, v in cluster_env.items() if k != default}
    build_site(users=3, spaces=2, pages=150)
    cluster = start_cluster(without=(default,))
    job_id = start_export_from_another_process(env)
    wait_exporting_pages(job_id)

    cluster.signal_group(signal.SIGKILL)
    killed_at = time.monotonic()
    cluster.wait_exit(timeout=30)
    assert any(name.endswith(".partial") for name in job_files(job(job_id))), "the kill left a partial file"

    attempts = 0
    while True:
        attempts += 1
        result = manage_shell(env, TRY_START)
        assert result.returncode == 0, result.stderr
        if result.stdout.startswith("JOB "):
            break
        assert result.stdout.strip() == "REFUSED export.already.running", result.stdout
        assert time.monotonic() - killed_at < 90, "no export accepted within 90 s of the kill"
        time.sleep(1)
    recovery = time.monotonic() - killed_at
    print(f"\nkill -9 to a new export accepted: {recovery:.1f} s ({attempts} start attempts)")
    assert recovery < 60

    reaped = job(job_id)
    assert reaped.status == JobStatus.FAILED
    assert "stopped responding" in reaped.errors[-1]["message"]
    assert "limit 30 s" in reaped.errors[-1]["message"]
    assert_stopped_early_with_finished_files_intact(reaped)
    data = manifest(reaped)
    for entry in data["files"]:
        digest = hashlib.sha256(job_files(reaped)[entry["file"]].read_bytes()).hexdigest()
        assert entry["sha256"] == digest


RACE_START = """
import os, time
from pathlib import Path
from datapipeline.errors import Conflict
from exports.services import export_start
Path(os.environ["RACE_DIR"], "ready-" + os.environ["RACE_ID"]).touch()
go = Path(os.environ["RACE_DIR"], "go")
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
try:
    job = export_start(trigger="command")
    print("JOB", job.pk, job.status)
except Conflict as exc:
    print("REFUSED", exc.key)
"""


def test_two_processes_starting_an_export_at_the_same_moment_get_exactly_one_job(cluster_env, tmp_path, fast_export):
    race_dir = tmp_path / "race"
    race_dir.mkdir()
    racers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", RACE_START],
            cwd=BASE_DIR,
            env={**cluster_env, "RACE_DIR": str(race_dir), "RACE_ID": str(n)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for n in (1, 2)
    ]
    try:
        wait_for(lambda: len(list(race_dir.glob("ready-*"))) == 2, timeout=90, what="both processes to be ready")
        (race_dir / "go").touch()
        outputs = [r.communicate(timeout=60) for r in racers]
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.wait()
    lines = sorted(line for out, _err in outputs for line in out.splitlines() if line.startswith(("JOB", "REFUSED")))
    assert len(lines) == 2, outputs
    assert lines[0].startswith("JOB ") and lines[1] == "REFUSED export.already.running", lines
    assert ExportJob.objects.count() == 1


def test_a_tiny_disk_fails_the_export_with_the_disk_message(start_cluster, cluster_env, tiny_filesystem):
    build_site(users=3, spaces=2, pages=600, body_bytes=4000)  # 2.4 MB: fits, so only the guard can stop it
    export_path_set(path=str(tiny_filesystem))
    free_gb = shutil.disk_usage(tiny_filesystem).free / 1024**3
    # Passes the check before the start, trips after some 300 KB have been written.
    minimum_gb = free_gb - 300 * 1024 / 1024**3
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value=f"{minimum_gb:.6f}")
    property_set(name="plugin.data.pipeline.export.batch.size", value="1")  # slow: many disk checks
    property_set(name="plugin.data.pipeline.throttle.ratio", value="20")
    start_cluster()

    job_id = start_export_from_another_process(cluster_env)

    done = wait_status(job_id, {JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.CANCELLED}, timeout=90)
    assert done.status == JobStatus.FAILED, (done.status, done.errors)
    [error] = done.errors
    assert error["key"] == "export.disk.space.insufficient"
    assert str(tiny_filesystem / str(job_id)) in error["message"]
    assert "MB free" in error["message"]
    assert f"the minimum is {minimum_gb:.6f}".rstrip("0") in error["message"]
    assert not any(n.endswith(".partial") for n in job_files(done))


def test_with_redis_as_the_broker_an_export_completes(start_cluster, cluster_env, fast_export):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/11"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"No Redis at {url}: {exc}")
    env = {**cluster_env, "REDIS_URL": url, "Q_CLUSTER_NAME": f"bgtest-redis-{uuid.uuid4().hex[:12]}"}
    build_site(users=2, spaces=2, pages=12, comments=3, events=5)
    cluster = start_cluster(REDIS_URL=url, Q_CLUSTER_NAME=env["Q_CLUSTER_NAME"])
    assert f"[django_q:{env['Q_CLUSTER_NAME']}:q]" in cluster.log()  # the Redis broker's queue

    job_id = start_export_from_another_process(env)

    done = wait_status(job_id, {JobStatus.COMPLETED, JobStatus.FAILED}, timeout=60)
    assert done.status == JobStatus.COMPLETED, done.errors
    assert done.statistics["writtenRows"] == 2 + 2 + 12 + 3 + 5
