"""What the runner does between batches: progress and heartbeat, cancel check, disk guard, throttle."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from .errors import KEY_DISK_SPACE
from .jobstatus import JobStatus
from .sitelatency import recent_samples
from .throttle import ADAPTIVE, AdaptiveThrottle, FixedThrottle

GIB = 1024**3
FLUSH_INTERVAL = 1.0  # seconds between job-row updates (progress, heartbeat, cancel check)
DISK_CHECK_INTERVAL = 2.0  # seconds between free-space checks while exporting (a statvfs call)
PAUSE_SLICE = 0.25
# The nice value of the thread that runs a throttled export (settings.DATAPIPELINE_EXPORT_NICENESS):
# the site's processes get the CPU first, the export what they leave (docs/background.md).
EXPORT_NICENESS = 19


class ExportCancelled(Exception):
    """The job was asked to stop; the runner ends it CANCELLED."""


class WorkerShutdown(ExportCancelled):
    """The worker running the export is shutting down (SIGTERM/SIGINT to the cluster)."""


class DiskSpaceLow(Exception):
    """Free space on the export filesystem fell below the configured minimum."""

    key = KEY_DISK_SPACE


def disk_space_problem(path: Path, minimum_gb: float) -> str | None:
    """Return the error message if ``path``'s filesystem has less than ``minimum_gb`` free; -1 disables."""
    if minimum_gb < 0:
        return None
    free = shutil.disk_usage(_existing_ancestor(path)).free
    if free < minimum_gb * GIB:
        minimum = f"{minimum_gb:.6f}".rstrip("0").rstrip(".")
        return (
            f"Not enough free disk space for the export at {path}: {_size(free)} free, "
            f"the minimum is {minimum} GB (plugin.data.pipeline.minimum.usable.disk.space.after.export)."
        )
    return None


def free_space_label(path: Path) -> str:
    """Free space on the filesystem holding ``path`` (its nearest existing ancestor), for a screen."""
    try:
        stat = os.statvfs(_existing_ancestor(path))
    except OSError:
        return "unknown"
    return f"{stat.f_bavail * stat.f_frsize / GIB:.1f} GB free"


def _existing_ancestor(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def lower_cpu_priority(niceness: int) -> int | None:
    """Raise the calling thread's nice value to ``niceness`` (never lower it); return the value now, None if unknown.

    On Linux a thread has its own nice value, so only the export's thread yields, not a whole
    web or test process; elsewhere the call may reach the process or nothing (then None).
    An unprivileged thread cannot take its priority back: it keeps the value after the export.
    """
    try:
        who = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, who)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, who, niceness)
        return os.getpriority(os.PRIO_PROCESS, who)
    except (AttributeError, OSError):
        return None


def _size(n: int) -> str:
    return f"{n / GIB:.2f} GB" if n >= GIB else f"{n / 1024**2:.1f} MB"


class ExportControl:
    """Called by the runner after every batch; raises to stop the export.

    ``save_progress(statistics)`` stores the progress and the heartbeat and answers the job's
    status now (``exports.jobs.job_save_progress``); any status but STARTED stops the export.
    """

    def __init__(
        self,
        *,
        save_progress: Callable[[dict[str, Any]], str | None] | None,
        export_dir: Path,
        throttle_ratio: float | str,
        minimum_free_gb: float,
        statistics: dict[str, Any],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        stop_check: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.save_progress = save_progress
        self.export_dir = export_dir
        self.throttle_ratio = throttle_ratio
        self.minimum_free_gb = minimum_free_gb
        self.statistics = statistics
        self.on_progress = on_progress
        self.stop_check = stop_check
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._work_started = now
        self._last_flush = now
        self._last_disk_check = now
        self.throttle = make_throttle(throttle_ratio)
        niceness = getattr(settings, "DATAPIPELINE_EXPORT_NICENESS", EXPORT_NICENESS)
        if self.throttle is not None and niceness > 0:
            lower_cpu_priority(niceness)

    def start_entity(self, entity: str, total: int | None) -> None:
        self.statistics.setdefault("entities", {})[entity] = {"rows": 0, "total": total, "done": False}
        self.flush()

    def finish_entity(self, entity: str) -> None:
        self.statistics["entities"][entity]["done"] = True
        self.statistics["exportedEntities"] = sum(1 for e in self.statistics["entities"].values() if e["done"])
        self.flush()

    def after_batch(self, entity: str, rows: int) -> None:
        self.statistics["entities"][entity]["rows"] += rows
        self.statistics["writtenRows"] = self.statistics.get("writtenRows", 0) + rows
        self.check_shutdown()
        now = self._clock()
        if now - self._last_flush >= FLUSH_INTERVAL:
            self.flush()
        if now - self._last_disk_check >= DISK_CHECK_INTERVAL:
            self.check_disk()
        self._throttle()

    def check_disk(self) -> None:
        """Fail the export if the export filesystem has less free space than the minimum."""
        self._last_disk_check = self._clock()
        problem = disk_space_problem(self.export_dir, self.minimum_free_gb)
        if problem:
            raise DiskSpaceLow(problem)

    def check_shutdown(self) -> None:
        """Stop at once if the worker is going away (cheap: a flag and a shared event)."""
        reason = self.stop_check() if self.stop_check is not None else None
        if reason:
            raise WorkerShutdown(f"The export was cancelled because {reason}")

    def _throttle(self) -> None:
        # Pause after the work just done (a fixed share of it, or what the site's latency asks for),
        # leaving the database and the CPU to the site in between; while it works, the export's thread
        # runs at EXPORT_NICENESS, so the site's requests come first. The pause is sliced so that a
        # shutdown is noticed within a fraction of a second.
        now = self._clock()
        if self.throttle is not None:
            pause = self.throttle.pause_after(now - self._work_started)
            remaining = pause
            while remaining > 0:
                step = min(remaining, PAUSE_SLICE)
                self._sleep(step)
                remaining -= step
                if remaining > 0:
                    self.check_shutdown()
            if pause > 0:
                self.throttle.paused(pause)
        self._work_started = self._clock()

    def prefetch_allowed(self) -> bool:
        """Whether the next batch may be read while this one is written and its pause runs: only while
        nothing is to be left to the site (no throttle, or an adaptive one that sees an idle site)."""
        throttle = self.throttle
        if throttle is None:
            return True
        return isinstance(throttle, AdaptiveThrottle) and throttle.ratio == 0 and not throttle.site_busy

    def throttle_state(self) -> dict[str, Any] | None:
        """What the throttle does now, for the job's statistics (None when it is off)."""
        throttle = self.throttle
        if throttle is None:
            return None
        state: dict[str, Any] = {"mode": "adaptive" if isinstance(throttle, AdaptiveThrottle) else "fixed"}
        state["ratio"] = round(throttle.ratio, 3)
        reading = getattr(throttle, "reading", None)
        if reading is not None:
            state["siteLatencyMs"] = {"working": reading.working_ms, "pausing": reading.paused_ms}
        return state

    def flush(self) -> None:
        """Save progress and the heartbeat; stop if a cancel was requested."""
        self._last_flush = self._clock()
        throttle = self.throttle_state()
        if throttle is not None:
            self.statistics["throttle"] = throttle
        status = self.save_progress(self.statistics) if self.save_progress is not None else JobStatus.STARTED
        if self.on_progress is not None:
            self.on_progress(self.statistics)
        if status != JobStatus.STARTED:
            raise ExportCancelled(f"Cancelled on request (status {status}).")


def make_throttle(setting: float | str) -> FixedThrottle | AdaptiveThrottle | None:
    """The throttle for ``plugin.data.pipeline.throttle.ratio``: ``adaptive``, a fixed ratio, or 0 for none."""
    if setting == ADAPTIVE:
        return AdaptiveThrottle(read_samples=recent_samples)
    ratio = float(setting)
    return FixedThrottle(ratio) if ratio > 0 else None
