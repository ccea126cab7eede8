"""Fixtures for the background-export tests: django-q2 sync mode, and a real qcluster harness."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from exports.configuration import property_set

from .harness import QCluster

# Seconds without a heartbeat after which the integration tests' jobs count as dead: above the
# longest gap between two heartbeats of a throttled export (a batch plus a pause of at most 2 s).
HEARTBEAT_LIMIT = 6


@pytest.fixture
def sync_q(monkeypatch):
    """Run queued tasks at once in this process, as a worker would (Q_CLUSTER['sync'])."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    return Conf


@pytest.fixture
def live_db(on_postgres, transactional_db):
    """A committed test database that other processes can use; PostgreSQL only."""
    if not on_postgres:
        pytest.skip(
            "A real qcluster is tested on PostgreSQL only: with SQLite two writing processes get "
            "'database is locked'. Set DATABASE_URL to a PostgreSQL server to run it."
        )


def database_url(db: dict) -> str:
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def cluster_env(live_db, settings, shared_home: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for the subprocesses: this test's database, shared home and a cluster name of its own."""
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = HEARTBEAT_LIMIT
    settings.DATAPIPELINE_NODE_ID = "test-process"
    dropped = {"TEST_DATABASE_NAME", "REDIS_URL", "Q_SYNC", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PLUGIN_DATA_PIPELINE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        Q_CLUSTER_NAME=f"bgtest-{uuid.uuid4().hex[:12]}",
        Q_POLL="0.2",
        DATAPIPELINE_SHARED_HOME=str(shared_home),
        DATAPIPELINE_VAR_DIR=str(tmp_path / "var"),
        DATAPIPELINE_HEARTBEAT_TIMEOUT=str(HEARTBEAT_LIMIT),
        DATAPIPELINE_NODE_ID="client-node",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_cluster(cluster_env, tmp_path: Path) -> Iterator[Callable[..., QCluster]]:
    """Start a real qcluster (node id ``worker-node-<n>``); every one is killed at teardown."""
    started: list[QCluster] = []

    def start(*, without: tuple[str, ...] = (), **overrides: str) -> QCluster:
        """``overrides`` change the environment; the variables in ``without`` are left out (their default)."""
        env = {**cluster_env, "DATAPIPELINE_NODE_ID": f"worker-node-{len(started) + 1}", **overrides}
        env = {k: v for k, v in env.items() if k not in without}
        cluster = QCluster(env, tmp_path / f"qcluster-{len(started) + 1}.log")
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.kill()


@pytest.fixture
def slow_export(live_db):
    """Properties that make a small site take many seconds: one row per batch, a strong throttle."""
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    property_set(name="plugin.data.pipeline.export.batch.size", value="1")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="20")


@pytest.fixture
def fast_export(live_db):
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    property_set(name="plugin.data.pipeline.export.batch.size", value="5000")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="0")


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for the test; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"Cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)
