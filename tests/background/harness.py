"""Real processes for the integration tests: a `manage.py qcluster` and one-off `manage.py shell` clients.

Every process runs in its own session, so a test can signal the whole cluster (or just its main
process) and the teardown can always kill whatever is left, process group by process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # a loaded 2-core machine can take a while to boot Django


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class QCluster:
    """One `python manage.py qcluster` subprocess with its own environment and log file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> QCluster:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: "running." in self.log() or self.proc.poll() is not None,
            timeout=START_TIMEOUT,
            what="qcluster to start",
            interval=0.2,
        )
        assert self.proc.poll() is None, f"qcluster exited at start:\n{self.log()}"
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def processes(self) -> list[psutil.Process]:
        """Every live process of this cluster's session (main, sentinel, workers, monitor, pusher)."""
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getsid(proc.pid) == self.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
                continue
        return found

    def signal_main(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def signal_group(self, signum: int) -> None:
        os.killpg(self.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL everything left in the cluster's session, and reap the main process."""
        if self.proc is None:
            return
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a process in uninterruptible sleep
            self.proc.wait(timeout=30)


def manage_shell(env: dict[str, str], code: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in `manage.py shell` as a separate process (another web node, a cron job)."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
        check=False,
    )
