"""Run one export in a child process (``manage.py export_start --foreground``) and measure it.

The child's peak resident memory is its own ``VmHWM`` (written at exit by ``bench.peakrun``: ru_maxrss
would carry this process's size across fork and exec) and its CPU time comes from ``os.wait4``
(ru_utime + ru_stime of that very process); its PostgreSQL backends' CPU time is sampled from
``/proc`` while it runs (they are found by the child's ``application_name``). Its files go to a
scratch shared home, deleted afterwards; the throttle ratio is given through the environment, so
the site's configuration is not changed.
"""

from __future__ import annotations

import contextlib
import itertools
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

from .cpu import BackendCpu, process_cpu_seconds, usage_cpu_seconds
from .site import ROOT, Site, child_env

ENTITY_ORDER = ("users", "spaces", "pages", "comments", "analytics")
_RUNS = itertools.count(1)


@dataclass
class EntityFigures:
    rows: int
    seconds: float  # running time: wall clock minus the time the process was stopped by the benchmark
    cpu_seconds: float = 0.0  # the exporting process and its PostgreSQL backends while this file was written
    bytes: int = 0  # the file's size, from the export's manifest
    deleted_keys: int = 0  # an incremental export's keys gone since its base (its deleted-keys file's rows)

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
    process_cpu_seconds: float = 0.0  # the exporting process, start to exit (Django start-up included)
    backend_cpu_seconds: float = 0.0  # its PostgreSQL backends

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities.values())

    @property
    def cpu_seconds(self) -> float:
        return self.process_cpu_seconds + self.backend_cpu_seconds

    @property
    def cpu_per_million_rows(self) -> float:
        """CPU seconds (process and backends) per million rows, the entities' own share (start-up left out)."""
        return sum(e.cpu_seconds for e in self.entities.values()) / max(self.rows, 1) * 1e6


class ExportFailed(Exception):
    pass


class ExportProcess:
    """A running export; ``stop()``/``resume()`` freeze and thaw it (SIGSTOP/SIGCONT) for the latency windows."""

    def __init__(
        self,
        site: Site,
        *,
        throttle_ratio: float | str,
        from_date: str,
        scratch: Path,
        file_format: str = "csv",
        mode: str = "FULL",
        python: Path | None = None,
    ):
        self.scratch = scratch
        self.stdout_path = scratch / "stdout.txt"
        self.stderr_path = scratch / "stderr.txt"
        self.peak_path = scratch / "peak_kb.txt"  # the child's own VmHWM (bench.peakrun)
        self.backend_cpu_path = scratch / "backend_cpu.json"  # its backends' CPU as each connection closed
        application_name = f"dp-bench-export-{os.getpid()}-{next(_RUNS)}"
        env = child_env(
            site,
            PGAPPNAME=application_name,  # libpq names every connection of the child so: its backends are found
            DATAPIPELINE_SHARED_HOME=str(scratch / "home"),
            PLUGIN_DATA_PIPELINE_THROTTLE_RATIO=str(throttle_ratio),
            PLUGIN_DATA_PIPELINE_MINIMUM_USABLE_DISK_SPACE_AFTER_EXPORT="1GB",
        )
        self.clock_offset = time.time() - time.monotonic()
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [
                    *[str(python or sys.executable), "-m", "bench.peakrun", str(self.peak_path)],
                    *(["--backend-cpu", str(self.backend_cpu_path)] if site.vendor == "postgresql" else []),
                    *[str(ROOT / "manage.py"), "export_start", "--foreground"],
                    "--from-date",
                    from_date,
                    "--format",
                    file_format,
                    "--mode",
                    mode,
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        self.backends = BackendCpu(
            site.conninfo if site.vendor == "postgresql" else None, application_name, interval=0.05
        )
        self.cpu_timeline: list[tuple[float, float]] = [(self.started, 0.0)]  # (monotonic, process + backends)
        self.process_cpu = 0.0
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
            self._sample_cpu()
            return False
        self.ended = time.monotonic()
        self.returncode = os.waitstatus_to_exitcode(status)
        self.process.returncode = self.returncode  # reaped here: Popen must not wait for it again
        self.maxrss_kb = usage.ru_maxrss
        self.process_cpu = usage_cpu_seconds(usage)
        self.backends.sample(force=True)
        self.backends.close()
        self.backends.add_final(self._final_backend_cpu())
        self.cpu_timeline.append((self.ended, self.process_cpu + self.backends.total))
        return True

    def _final_backend_cpu(self) -> list[tuple[int, float]]:
        """The child's own reading of each backend as its connection closed (none if it was killed)."""
        try:
            return [(int(pid), float(seconds)) for pid, seconds in json.loads(self.backend_cpu_path.read_text())]
        except (OSError, ValueError):
            return []

    def _peak_kb(self) -> int:
        """The child's own peak (VmHWM, see bench.peakrun); ru_maxrss only if it wrote none."""
        try:
            return int(self.peak_path.read_text())
        except (OSError, ValueError):
            return self.maxrss_kb

    def _sample_cpu(self) -> None:
        if self.backends.sample():
            own = process_cpu_seconds(self.process.pid)
            if own is not None:
                self.process_cpu = own
                self.cpu_timeline.append((time.monotonic(), own + self.backends.total))

    def cpu_at(self, moment: float) -> float:
        """Cumulative CPU seconds (process and backends) at a monotonic moment, interpolated between samples."""
        timeline = self.cpu_timeline
        for (t0, c0), (t1, c1) in itertools.pairwise(timeline):
            if t0 <= moment <= t1:
                return c0 if t1 == t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)
        return timeline[-1][1] if moment > timeline[-1][0] else 0.0

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
            # The job's JSON follows the progress lines on stdout.
            job, _ = json.JSONDecoder().raw_decode(out[max(out.find("{"), 0) :])
        except ValueError:
            raise ExportFailed(
                f"The export printed no job (exit {self.returncode}):\n{out[-2000:]}{err[-3000:]}"
            ) from None
        if self.returncode != 0 or job.get("status") != "COMPLETED":
            raise ExportFailed(f"The export ended {job.get('status')} (exit {self.returncode}): {job.get('errors')}")
        entities = self._entities(job)
        for manifest in self.scratch.rglob("manifest.json"):
            for written in json.loads(manifest.read_text())["files"]:
                if written["entity"] in entities and written.get("content", "rows") == "rows":
                    entities[written["entity"]].bytes = int(written["bytes"])
        return ExportResult(
            job=job,
            wall_seconds=self.ended - self.started,
            export_seconds=sum(e.seconds for e in entities.values()),
            peak_rss_mb=self._peak_kb() / 1024,
            entities=entities,
            stopped=list(self.stopped),
            process_cpu_seconds=self.process_cpu,
            backend_cpu_seconds=self.backends.total,
        )

    def _entities(self, job: dict[str, Any]) -> dict[str, EntityFigures]:
        """Rows and running seconds per entity; the time the benchmark kept the process stopped is left out.

        The runner records each file's wall-clock seconds; the files are written one after the
        other and the last one ends at the job's completion time, so each file's interval is
        found backwards from there, and the stopped intervals overlapping it are subtracted.
        """
        stats = job["statistics"]["entities"]
        # The job's completedTime has whole seconds; the process exits a few milliseconds after the job ends.
        completed = datetime.fromisoformat(job["completedTime"].replace("Z", "+00:00")).timestamp()
        end = self.ended if self.ended is not None else completed - self.clock_offset
        figures: dict[str, EntityFigures] = {}
        # The job's statistics may come back in any key order (PostgreSQL's jsonb sorts them): the runner's is fixed.
        order = [n for n in ENTITY_ORDER if n in stats] + [n for n in stats if n not in ENTITY_ORDER]
        for name in reversed(order):
            seconds = float(stats[name].get("seconds") or 0.0)
            start = end - seconds
            paused = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.stopped)
            figures[name] = EntityFigures(
                rows=int(stats[name]["rows"]),
                seconds=max(seconds - paused, 1e-9),
                cpu_seconds=max(self.cpu_at(end) - self.cpu_at(start), 0.0),
                deleted_keys=int(stats[name].get("deletedKeys") or 0),
            )
            end = start
        return {n: figures[n] for n in order}


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="dp-bench-"))


def run_export(
    site: Site,
    *,
    throttle_ratio: float | str,
    from_date: str,
    file_format: str = "csv",
    mode: str = "FULL",
    python: Path | None = None,
) -> ExportResult:
    """One export (CSV or Parquet; ``mode`` FULL or INCREMENTAL) from start to end, its files deleted afterwards.

    ``python``: the interpreter that runs ``manage.py`` (default: this one)."""
    scratch = scratch_dir()
    export = ExportProcess(
        site,
        throttle_ratio=throttle_ratio,
        from_date=from_date,
        scratch=scratch,
        file_format=file_format,
        mode=mode,
        python=python,
    )
    try:
        export.wait()
        return export.result()
    finally:
        export.kill()
        shutil.rmtree(scratch, ignore_errors=True)
