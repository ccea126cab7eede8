"""CPU seconds of a process and of the PostgreSQL backends that serve it, read from ``/proc``.

A child's own CPU time comes from ``os.wait4`` when it ends; the database's share is the CPU
time of its backends (and their parallel workers), found in ``pg_stat_activity`` by the
``application_name`` the child connects with and read from ``/proc/<pid>/stat`` while they run.
Sampling sees only the CPU spent before each sample: a backend that works and ends between two
samples would be lost. So the exporting child also reports each of its backends' final CPU time as
its connection closes (``bench.peakrun --backend-cpu``), and ``add_final`` takes those readings in.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FIND_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = %(name)s "
    "OR leader_pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = %(name)s)"
)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of the process so far (all its threads), or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0], utime [11], stime [12]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def usage_cpu_seconds(usage: Any) -> float:
    """User + system seconds of an ``os.wait4`` resource usage."""
    return usage.ru_utime + usage.ru_stime


class BackendCpu:
    """The CPU seconds of the PostgreSQL backends whose connections are named ``application_name``."""

    def __init__(self, conninfo: str | None, application_name: str, interval: float = 0.2):
        self.application_name = application_name
        self.interval = interval
        self.seen: dict[int, float] = {}
        self._last_sample = 0.0
        self._connection: Any = None
        if conninfo is not None:
            import psycopg

            self._connection = psycopg.connect(conninfo, autocommit=True, application_name="dp-bench-sampler")

    def sample(self, *, force: bool = False) -> bool:
        """Read the backends' CPU time if ``interval`` has passed since the last time; True if it did."""
        now = time.monotonic()
        if not force and now - self._last_sample < self.interval:
            return False
        self._last_sample = now
        if self._connection is None:  # SQLite: no backends, the pace of the samples stays the same
            return True
        for (pid,) in self._connection.execute(FIND_BACKENDS, {"name": self.application_name}).fetchall():
            seconds = process_cpu_seconds(pid)
            if seconds is not None:
                self.seen[pid] = max(seconds, self.seen.get(pid, 0.0))
        return True

    def add_final(self, readings: list[tuple[int, float]]) -> None:
        """Backends' CPU seconds read as their connections closed (a later reading of the same pid adds:
        PostgreSQL may give a new backend the pid of one that ended)."""
        final: dict[int, float] = {}
        for pid, seconds in readings:
            final[pid] = final.get(pid, 0.0) + seconds
        for pid, seconds in final.items():
            self.seen[pid] = max(seconds, self.seen.get(pid, 0.0))

    @property
    def total(self) -> float:
        return sum(self.seen.values())

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
