"""A qcluster says that it started, on which node and with which broker, at the default log level."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exports.cluster_announce import broker_describe

from .harness import BASE_DIR, wait_for

pytestmark = pytest.mark.integration


def test_qcluster_prints_its_start_node_and_broker(tmp_path: Path):
    """A real qcluster on a private SQLite file, with the default log levels (LOG_LEVEL unset)."""
    dropped = {"DATABASE_URL", "TEST_DATABASE_NAME", "REDIS_URL", "LOG_LEVEL", "Q_SYNC", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_")}
    env.update(
        DATAPIPELINE_VAR_DIR=str(tmp_path / "var"),
        DATAPIPELINE_NODE_ID="announce-node",
        Q_CLUSTER_NAME="announce-test",
        PYTHONUNBUFFERED="1",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120)
    log = tmp_path / "qcluster.log"
    with log.open("wb") as handle:
        cluster = subprocess.Popen(
            [*manage, "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "started on node" in log.read_text(), timeout=60, what="the qcluster's start line")
        database = tmp_path / "var" / "db.sqlite3"
        assert re.search(
            rf"^qcluster 'announce-test' started on node announce-node: worker Process-\w+ ready, "
            rf"broker the database \(sqlite3 {re.escape(str(database))}, alias 'default'\)\.$",
            log.read_text(),
            re.MULTILINE,
        ), log.read_text()
        cluster.send_signal(signal.SIGINT)
        assert cluster.wait(timeout=30) == 0
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=30)


def test_a_redis_broker_is_named_without_its_password(settings):
    settings.Q_CLUSTER = {"name": "x", "redis": "redis://:s3cret@cache.internal:6380/2"}
    assert broker_describe() == "Redis at cache.internal:6380/2"
