"""The project served for real: a web server and a qcluster on the pytest-django test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from exports.site_run import wait_for_login_page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM to the leader (qcluster stops its workers in order), then SIGKILL what is left of the group."""
        group = self.popen.pid  # start_new_session: the group id is the leader's pid
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(group, signal.SIGKILL)
                self.popen.wait(timeout=10)
        deadline = time.monotonic() + 5
        while self._signal(group, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        self._signal(group, signal.SIGKILL)

    @staticmethod
    def _signal(group: int, sig: int) -> bool:
        """Send ``sig`` to the group; False when no process of it is left."""
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return False
        return True


@dataclass
class LiveStack:
    """A runserver (DEBUG off, collected static files served by WhiteNoise) and a qcluster, sharing a home."""

    workdir: Path
    shared_home: Path
    node_id: str = "e2e-node"
    processes: list[Process] = field(default_factory=list)
    base_url: str = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(
            DATABASE_URL=database_url(),
            DATAPIPELINE_SHARED_HOME=str(self.shared_home),
            DATAPIPELINE_VAR_DIR=str(self.workdir / "var"),
            DATAPIPELINE_NODE_ID=self.node_id,
            Q_CLUSTER_NAME=f"admin-e2e-{os.getpid()}",
            Q_POLL="0.5",
            Q_SYNC="false",
            DJANGO_DEBUG="false",
            PYTHONUNBUFFERED="1",
        )
        env.pop("REDIS_URL", None)  # the ORM broker, on the test database
        return env

    def spawn(self, name: str, *args: str) -> Process:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start(self, timeout: float = 60) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        # As in production: compressed, hashed static files collected first, DEBUG off.
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            timeout=120,
        )
        web = self.spawn("web", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks")
        self.spawn("qcluster", "qcluster")

        def web_alive() -> None:
            if web.popen.poll() is not None:
                raise RuntimeError(f"the web server exited:\n{web.tail()}")

        if not wait_for_login_page(self.base_url, timeout=timeout, check=web_alive):
            raise RuntimeError(f"the web server did not answer within {timeout} s:\n{web.tail()}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (exit {p.popen.poll()})\n{p.tail()}" for p in self.processes)
