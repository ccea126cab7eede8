"""Notice, inside a django-q2 worker, that the cluster is shutting down, so a running export can stop.

django-q2 1.11 has no cancel and no shutdown hook for a running task. Its process model:

- ``qcluster`` (the main process) handles SIGTERM/SIGINT by setting the cluster's ``stop_event``
  (a ``multiprocessing.Event``) and joining the sentinel;
- the sentinel, on ``stop_event``, stops the pusher, sends each worker a STOP pill and then waits
  for the workers **without a time limit**: a running export would be awaited to its end;
- the sentinel and its workers have SIGTERM at its default action (die at once) and SIGINT ignored,
  so a SIGTERM sent to the whole process group (systemd's default) kills a worker mid-export.

So a worker watches both: the cluster's ``stop_event`` (found on the sentinel, whose frames the
forked worker still carries; read only, never set) and a SIGTERM handler of its own, installed for
the duration of an export. The handler only sets a flag (nothing that takes a lock in signal
context); the export checks :meth:`ShutdownWatch.reason` between batches and ends CANCELLED.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


def find_cluster_stop_event(frame: FrameType | None = None) -> Any | None:
    """Return the django-q2 sentinel's ``stop_event`` if this code runs in a qcluster worker, else None."""
    try:
        from django_q.cluster import Sentinel
    except ImportError:  # pragma: no cover - django-q2 is a requirement
        return None
    frame = frame or inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Sentinel):
            return getattr(owner, "stop_event", None)
        frame = frame.f_back
    return None


class ShutdownWatch:
    """Answers "should this export stop because its worker is going away?" between batches."""

    def __init__(self, stop_event: Any | None = None, parent: Any | None = None):
        self.stop_event = stop_event
        self.parent = parent  # the sentinel that forked this worker (multiprocessing.parent_process())
        self.signal_name: str | None = None

    @classmethod
    def for_current_worker(cls) -> ShutdownWatch:
        stop_event = find_cluster_stop_event()
        return cls(stop_event, multiprocessing.parent_process() if stop_event is not None else None)

    @property
    def in_cluster(self) -> bool:
        return self.stop_event is not None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Signal context: only set a flag; the export acts on it after the current batch.
        self.signal_name = signal.Signals(signum).name

    @contextmanager
    def signals_handled(self) -> Iterator[ShutdownWatch]:
        """Catch SIGTERM while the block runs (main thread only), then restore the previous handler."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)

    def reason(self) -> str | None:
        """Why the export must stop now, or None to go on."""
        if self.signal_name:
            return f"its worker received {self.signal_name}"
        # Checked before the event: a sentinel killed while holding the event's lock would make
        # is_set() block for ever (the sentinel keeps SIGTERM's default action).
        if self.parent is not None and not self.parent.is_alive():
            return "the qcluster sentinel that ran its worker has gone"
        if self.stop_event is not None:
            try:
                stopping = self.stop_event.is_set()
            except (OSError, ValueError):  # the cluster's shared memory is gone: it is stopping
                stopping = True
            if stopping:
                return "the qcluster it ran in was asked to stop (SIGTERM or SIGINT)"
        return None

    @property
    def received_signal(self) -> bool:
        return self.signal_name is not None
