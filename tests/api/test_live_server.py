"""The API over real HTTP: gunicorn on 127.0.0.1, a real qcluster, Atlassian's documented curl example.

PostgreSQL only: the server and the cluster are separate processes and must share the test
database (SQLite's test database lives in this process's memory).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from exports.models import ExportJob, JobStatus
from exports.tokens import token_create
from wiki.models import Content, Profile, Space

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

START_TIMEOUT = 60
EXPORT_TIMEOUT = 180


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def stop(process: subprocess.Popen) -> None:
    """Stop a process we started: TERM to its leader (it stops its own children), then KILL the group."""
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
    except ProcessLookupError:
        return
    process.wait(timeout=10)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture
def live_env(on_postgres: bool, transactional_db: Any, shared_home: Path, settings: Any) -> dict[str, str]:
    if not on_postgres:
        pytest.skip("needs PostgreSQL: gunicorn and qcluster must share the test database (SQLite's is in memory)")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "Q_CLUSTER_NAME": f"api-live-{uuid.uuid4().hex[:8]}",
        "Q_POLL": "0.2",
        "Q_WORKERS": "1",
        "DATAPIPELINE_SHARED_HOME": str(shared_home),
        "DATAPIPELINE_NODE_ID": "live-node",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    env.pop("REDIS_URL", None)  # the ORM broker: the tasks live in the test database too
    return env


def spawn(args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen:
    with log_path.open("wb") as log:
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def server(live_env: dict[str, str], settings: Any, tmp_path: Path) -> Iterator[str]:
    """gunicorn on 127.0.0.1, a port the kernel picked; yields the base URL."""
    log_path = tmp_path / "gunicorn.log"
    process = spawn(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "3",
            "--threads",
            "8",
            "--timeout",
            "120",
        ],
        live_env,
        log_path,
        Path(settings.BASE_DIR),
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        base = None
        while base is None and time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited:\n" + tail(log_path)
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", tail(log_path))
            base = found.group(1) if found else None
            time.sleep(0.2)
        assert base, "gunicorn did not start:\n" + tail(log_path)
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/rest/datapipeline/latest/ping", timeout=5) as response:  # noqa: S310
                    if json.load(response) == {"ping": "success"}:
                        break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        stop(process)


@pytest.fixture
def qcluster(live_env: dict[str, str], settings: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    log_path = tmp_path / "qcluster.log"
    process = spawn(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "qcluster"],
        live_env,
        log_path,
        Path(settings.BASE_DIR),
    )
    try:
        yield process, log_path
    finally:
        stop(process)


@pytest.fixture
def admin_token(transactional_db: Any) -> str:
    user = get_user_model().objects.create_superuser("automation", "automation@example.com", "a-long-password-1")
    _token, raw = token_create(user=user, name="curl")
    return raw


@pytest.fixture
def tiny_site(transactional_db: Any) -> None:
    author = get_user_model().objects.create_user("writer", "writer@example.com", "pw-writer-123")
    Profile.objects.create(user=author, full_name="Writer One")
    space = Space.objects.create(key="LIVE", name="Live space", creator=author)
    for i in range(3):
        Content.objects.create(
            space=space, title=f"Live page {i}", body="<p>hi</p>", creator=author, last_modifier=author
        )


def curl(*args: str) -> tuple[int, Any]:
    """Run curl exactly as given; returns (HTTP status, parsed JSON body)."""
    completed = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, code = completed.stdout.rpartition("\n")
    return int(code), json.loads(body) if body.strip() else None


def test_atlassians_curl_example_starts_an_export_that_completes(server, qcluster, admin_token, tiny_site):
    process, log_path = qcluster
    # As Atlassian's documentation writes it: no space after "Authorization:", the Atlassian anti-forgery header, POST.
    status, job = curl(
        "-H",
        f"Authorization:Bearer {admin_token}",
        "-H",
        "X-Atlassian-Token: no-check",
        "-X",
        "POST",
        f"{server}/rest/datapipeline/latest/export?fromDate=2020-10-22T01:30:11Z",
    )
    assert status == 202, job
    assert job["status"] == "STARTED"
    assert job["config"] == {
        "exportFrom": "2020-10-22T01:30:00Z",
        "forcedExport": False,
        "format": "csv",
        "sinceJobId": None,
        "changesSince": None,
        "reconcile": False,
    }
    assert job["nodeId"] == "live-node"
    job_id = job["jobId"]

    deadline = time.monotonic() + EXPORT_TIMEOUT
    while time.monotonic() < deadline:
        status, job = curl("-H", f"Authorization:Bearer {admin_token}", f"{server}/rest/datapipeline/latest/export")
        assert status == 200, job
        assert job["jobId"] == job_id
        if job["status"] not in ("STARTED", "CANCELLATION_REQUESTED"):
            break
        assert process.poll() is None, "qcluster exited:\n" + tail(log_path)
        time.sleep(0.5)
    assert job["status"] == "COMPLETED", f"{job}\n{tail(log_path)}"
    assert job["completedTime"] is not None
    assert job["statistics"]["exportedEntities"] == 5
    assert job["statistics"]["writtenRows"] >= 3 + 1 + 2  # pages, the space, the users at least

    job_dir = Path(job["rootExportPath"]) / str(job_id)
    names = sorted(p.name for p in job_dir.glob("*.csv"))
    for entity in ("users", "spaces", "pages", "comments", "analytics"):
        assert any(
            re.fullmatch(rf"{entity}_job{job_id}_v2_\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.csv", n) for n in names
        ), names
    pages = next(job_dir.glob("pages_job*.csv")).read_text(encoding="utf-8")
    assert all(f"Live page {i}" in pages for i in range(3))

    # the history shows it, over the 1.0 alias too
    status, history = curl("-H", f"Authorization: Bearer {admin_token}", f"{server}/rest/datapipeline/1.0/history")
    assert status == 200
    assert [j["jobId"] for j in history["values"]] == [job_id]


def test_twenty_concurrent_starts_give_one_202_and_nineteen_409s(server, admin_token):
    """The database allows one active export, whichever gunicorn worker and thread takes the request."""
    url = f"{server}/rest/datapipeline/latest/export"
    barrier = threading.Barrier(20)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def start() -> None:
        request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
            url,
            method="POST",
            headers={"Authorization": f"Bearer {admin_token}", "X-Atlassian-Token": "no-check"},
        )
        barrier.wait(timeout=30)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                outcome = (response.status, json.load(response))
        except urllib.error.HTTPError as error:
            outcome = (error.code, json.load(error))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=start) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(results) == 20
    statuses = sorted(code for code, _ in results)
    assert statuses == [202] + [409] * 19, [(c, b.get("message")) for c, b in results]
    started = next(body for code, body in results if code == 202)
    for code, body in results:
        if code == 409:
            assert body["jobId"] == started["jobId"]
            assert body["status"] == "STARTED"
            assert body["statusCode"] == 409
            assert [e["key"] for e in body["errors"]] == ["export.already.running"]
    assert ExportJob.objects.count() == 1
    assert ExportJob.objects.get().status == JobStatus.STARTED


def test_gunicorn_serves_the_openapi_document_and_the_docs_page_without_a_cdn(server):
    status, document = curl(f"{server}/rest/datapipeline/openapi.json")
    assert status == 200
    assert "/rest/datapipeline/latest/export" in document["paths"]
    page = subprocess.run(
        ["curl", "-sS", "--max-time", "30", f"{server}/rest/datapipeline/docs/"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assets = re.findall(r'src="([^"]+\.js)"', page)
    assert assets, page
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        code = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", f"{server}{asset}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert code == "200", asset
