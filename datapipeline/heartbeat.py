"""The running export's heartbeat, written from a thread of its own.

Between batches the runner's progress updates also carry the heartbeat, but a long statement,
the fsync of a big file or a long throttle pause would then look like a dead worker. This thread
writes it every few seconds, on its own database connection, while the export runs. What a beat
writes is the caller's ``beat`` callback (``exports.jobs.job_beat``): the engine knows no job row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connections, transaction

log = logging.getLogger(__name__)

LONGEST_INTERVAL = 5.0  # seconds
SHORTEST_INTERVAL = 0.2


def heartbeat_interval() -> float:
    """A few beats within the timeout, so one slow write never makes a live worker look dead."""
    return max(SHORTEST_INTERVAL, min(LONGEST_INTERVAL, settings.DATAPIPELINE_HEARTBEAT_TIMEOUT / 6))


class Heartbeat:
    """Call ``beat`` (write ``heartbeat = now`` on the job's row) every few seconds until ``stop``."""

    def __init__(self, job_id: int, *, beat: Callable[[], None], interval: float | None = None):
        self.job_id = job_id
        self.beat = beat
        self.interval = interval if interval is not None else heartbeat_interval()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Inside a transaction (an in-process test, a caller's atomic block) no other connection
        # can see the job row, and on SQLite the thread would only wait on the caller's lock.
        if transaction.get_connection().in_atomic_block:
            return
        self._thread = threading.Thread(target=self._run, name=f"export-{self.job_id}-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a lost connection: try again at the next beat
                    log.warning("Export %s: could not write the heartbeat", self.job_id, exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's connections only
