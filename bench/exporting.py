"""Run one export in a child process (``manage.py export_start --foreground``) and measure it.

The child's peak resident memory comes from ``os.wait4`` (the kernel's ru_maxrss of that very
process). Its files go to a scratch shared home, deleted afterwards; the throttle ratio is given
through the environment, so the site's configuration is not changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .site import ROOT, Site, child_env

ENTITY_ORDER = ("users", "spaces", "pages", "comments", "analytics")


@dataclass
class EntityFigures:
    rows: int
    seconds: float  # running time: wall clock minus the time the process was stopped by the benchmark

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ExportResult:
    job: dict[str, Any]
    wall_seconds: float  # the child process, start to exit (Django start-up included)
    export_seconds: float  # sum of the entities' running seconds
    peak_rss_mb: float
    entities: dict[str, EntityFigures]
    stopped: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities.values())


class ExportFailed(Exception):
    pass


class ExportProcess:
    """A running export; ``stop()``/``resume()`` freeze and thaw it (SIGSTOP/SIGCONT) for the latency windows."""

    def __init__(self, site: Site, *, throttle_ratio: float, from_date: str, scratch: Path):
        self.scratch = scratch
        self.stdout_path = scratch / "stdout.txt"
        self.stderr_path = scratch / "stderr.txt"
        env = child_env(
            site,
            DATAPIPELINE_SHARED_HOME=str(scratch / "home"),
            PLUGIN_DATA_PIPELINE_THROTTLE_RATIO=repr(float(throttle_ratio)),
            PLUGIN_DATA_PIPELINE_MINIMUM_USABLE_DISK_SPACE_AFTER_EXPORT="1GB",
        )
        self.clock_offset = time.time() - time.monotonic()
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "export_start", "--foreground", "--from-date", from_date],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        self.stopped: list[tuple[float, float]] = []
        self._stopped_at: float | None = None
        self.returncode: int | None = None
        self.ended: float | None = None
        self.maxrss_kb = 0

    def stop(self) -> None:
        if self.returncode is None and self._stopped_at is None:
            os.kill(self.process.pid, signal.SIGSTOP)
            self._stopped_at = time.monotonic()

    def resume(self) -> None:
        if self._stopped_at is not None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.stopped.append((self._stopped_at, time.monotonic()))
            self._stopped_at = None

    def poll(self) -> bool:
        """True once the child has exited (reaped with its resource usage)."""
        if self.returncode is not None:
            return True
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.ended = time.monotonic()
        self.returncode = os.waitstatus_to_exitcode(status)
        self.process.returncode = self.returncode  # reaped here: Popen must not wait for it again
        self.maxrss_kb = usage.ru_maxrss
        return True

    def wait(self, tick: Callable[[], None] | None = None, interval: float = 0.05) -> None:
        while not self.poll():
            if tick is not None:
                tick()
            time.sleep(interval)

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
                self.process.terminate()
            deadline = time.monotonic() + 30
            while not self.poll() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.returncode is None:
                self.process.kill()
                self.wait()

    def result(self) -> ExportResult:
        if self.returncode is None or self.ended is None:
            raise ExportFailed("The export has not ended.")
        out = self.stdout_path.read_text(encoding="utf-8", errors="replace")
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        try:
            job, _ = json.JSONDecoder().raw_decode(out.lstrip())
        except ValueError:
            raise ExportFailed(
                f"The export printed no job (exit {self.returncode}):\n{out[-2000:]}{err[-3000:]}"
            ) from None
        if self.returncode != 0 or job.get("status") != "COMPLETED":
            raise ExportFailed(f"The export ended {job.get('status')} (exit {self.returncode}): {job.get('errors')}")
        entities = self._entities(job)
        return ExportResult(
            job=job,
            wall_seconds=self.ended - self.started,
            export_seconds=sum(e.seconds for e in entities.values()),
            peak_rss_mb=self.maxrss_kb / 1024,
            entities=entities,
            stopped=list(self.stopped),
        )

    def _entities(self, job: dict[str, Any]) -> dict[str, EntityFigures]:
        """Rows and running seconds per entity; the time the benchmark kept the process stopped is left out.

        The runner records each file's wall-clock seconds; the files are written one after the
        other and the last one ends at the job's completion time, so each file's interval is
        found backwards from there, and the stopped intervals overlapping it are subtracted.
        """
        stats = job["statistics"]["entities"]
        completed = datetime.fromisoformat(job["completedTime"].replace("Z", "+00:00")).timestamp()
        end = completed - self.clock_offset
        figures: dict[str, EntityFigures] = {}
        # The job's statistics may come back in any key order (PostgreSQL's jsonb sorts them): the runner's is fixed.
        order = [n for n in ENTITY_ORDER if n in stats] + [n for n in stats if n not in ENTITY_ORDER]
        for name in reversed(order):
            seconds = float(stats[name].get("seconds") or 0.0)
            start = end - seconds
            paused = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.stopped)
            figures[name] = EntityFigures(rows=int(stats[name]["rows"]), seconds=max(seconds - paused, 1e-9))
            end = start
        return {n: figures[n] for n in order}


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="dp-bench-"))


def run_export(site: Site, *, throttle_ratio: float, from_date: str) -> ExportResult:
    """One export from start to end, its files deleted afterwards."""
    scratch = scratch_dir()
    export = ExportProcess(site, throttle_ratio=throttle_ratio, from_date=from_date, scratch=scratch)
    try:
        export.wait()
        return export.result()
    finally:
        export.kill()
        shutil.rmtree(scratch, ignore_errors=True)
