"""What the runner does between batches: progress and heartbeat, cancel check, disk guard, throttle."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.utils import timezone

from .errors import KEY_DISK_SPACE

GIB = 1024**3
FLUSH_INTERVAL = 1.0  # seconds between job-row updates (progress, heartbeat, cancel check)
DISK_CHECK_INTERVAL = 5.0


class ExportCancelled(Exception):
    """The job was asked to stop; the runner ends it CANCELLED."""


class DiskSpaceLow(Exception):
    """Free space on the export filesystem fell below the configured minimum."""

    key = KEY_DISK_SPACE


def disk_space_problem(path: Path, minimum_gb: float) -> str | None:
    """Return the error message if ``path``'s filesystem has less than ``minimum_gb`` free; -1 disables."""
    if minimum_gb < 0:
        return None
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < minimum_gb * GIB:
        return (
            f"Not enough free disk space for the export at {path}: {free / GIB:.2f} GB free, "
            f"the minimum is {minimum_gb:g} GB (plugin.data.pipeline.minimum.usable.disk.space.after.export)."
        )
    return None


class ExportControl:
    """Called by the runner after every batch; raises to stop the export."""

    def __init__(
        self,
        *,
        job_id: int,
        export_dir: Path,
        throttle_ratio: float,
        minimum_free_gb: float,
        statistics: dict[str, Any],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.job_id = job_id
        self.export_dir = export_dir
        self.throttle_ratio = throttle_ratio
        self.minimum_free_gb = minimum_free_gb
        self.statistics = statistics
        self.on_progress = on_progress
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._work_started = now
        self._last_flush = now
        self._last_disk_check = now

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
        now = self._clock()
        if now - self._last_flush >= FLUSH_INTERVAL:
            self.flush()
        if now - self._last_disk_check >= DISK_CHECK_INTERVAL:
            self._last_disk_check = now
            problem = disk_space_problem(self.export_dir, self.minimum_free_gb)
            if problem:
                raise DiskSpaceLow(problem)
        self._throttle()

    def _throttle(self) -> None:
        # Pause in proportion to the work just done: with ratio r the export uses at most
        # 1/(1+r) of the time, leaving the database and the CPU to the site in between.
        now = self._clock()
        if self.throttle_ratio > 0:
            self._sleep(min((now - self._work_started) * self.throttle_ratio, 2.0))
        self._work_started = self._clock()

    def flush(self) -> None:
        """Save progress and the heartbeat; stop if a cancel was requested."""
        from exports.models import ACTIVE_STATUSES, ExportJob, JobStatus

        self._last_flush = self._clock()
        ExportJob.objects.filter(pk=self.job_id, status__in=ACTIVE_STATUSES).update(
            statistics=self.statistics, heartbeat=timezone.now()
        )
        status = ExportJob.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
        if self.on_progress is not None:
            self.on_progress(self.statistics)
        if status != JobStatus.STARTED:
            raise ExportCancelled(f"Cancelled on request (status {status}).")
