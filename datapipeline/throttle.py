"""How long an export pauses after a batch: a fixed ratio, or as much as the site's own latency asks for.

The adaptive throttle compares the site's request latency (``sitelatency``) while the export works with
its latency while the export pauses. It keeps a log of its own work and pause intervals (Unix time, the
clock the web processes stamp their requests with), sorts each request into the interval it started
in, and every couple of seconds moves the pause ratio: doubled (from at least 0.25) while the median
under work is more than ``tolerance`` above the median during pauses, reduced by a quarter while it is
not. With no requests at all there is nothing to protect and it does not pause. While the site is
busy it pauses at least one second in every ``PROBE_EVERY`` so that the baseline stays fresh.
"""

from __future__ import annotations

import bisect
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_PAUSE = 2.0  # longest single pause, seconds
ADAPTIVE = "adaptive"


class FixedThrottle:
    """Pause ``ratio`` seconds per second of work (at most MAX_PAUSE at a time)."""

    def __init__(self, ratio: float):
        self.ratio = ratio

    def pause_after(self, work_seconds: float) -> float:
        return min(work_seconds * self.ratio, MAX_PAUSE)

    def paused(self, seconds: float) -> None:
        """Nothing to learn from a pause."""


@dataclass
class Reading:
    """The latest comparison: medians in milliseconds and how many requests each came from."""

    working_ms: float
    paused_ms: float
    working_requests: int
    paused_requests: int
    ratio: float


class AdaptiveThrottle:
    """Pause ratio that follows the site's latency (see the module's docstring)."""

    WINDOW = 60.0  # seconds of requests and intervals kept
    RECENT = 10.0  # the latency under work is taken over this many seconds
    DECIDE_EVERY = 2.0
    PROBE_EVERY = 15.0
    PROBE_SECONDS = 1.0
    SETTLE = 0.2  # the first moments of a pause still feel the work just done
    MIN_REQUESTS = 8
    MIN_RATIO = 0.25

    def __init__(
        self,
        *,
        read_samples: Callable[[float], list[tuple[float, float]]],
        tolerance: float = 0.03,
        max_ratio: float = 8.0,
        clock: Callable[[], float] = time.time,
    ):
        self.read_samples = read_samples
        self.tolerance = tolerance
        self.max_ratio = max_ratio
        self.clock = clock
        self.ratio = 0.0
        self.site_busy = False
        self.reading: Reading | None = None
        now = clock()
        self._starts: deque[float] = deque()
        self._intervals: deque[tuple[float, float, bool]] = deque()  # (start, end, paused)
        self._last_decision = now
        self._last_pause_end = now

    def pause_after(self, work_seconds: float) -> float:
        now = self.clock()
        self._record(now - work_seconds, now, paused=False)
        if now - self._last_decision >= self.DECIDE_EVERY:
            self._last_decision = now
            self._decide(now)
        pause = min(work_seconds * self.ratio, MAX_PAUSE)
        if self.site_busy and now - self._last_pause_end >= self.PROBE_EVERY:
            pause = max(pause, self.PROBE_SECONDS)
        return pause

    def paused(self, seconds: float) -> None:
        now = self.clock()
        self._record(now - seconds, now, paused=True)
        self._last_pause_end = now

    def _record(self, start: float, end: float, *, paused: bool) -> None:
        self._starts.append(start)
        self._intervals.append((start, end, paused))
        while self._intervals and self._intervals[0][1] < end - self.WINDOW:
            self._intervals.popleft()
            self._starts.popleft()

    def _state_at(self, instant: float) -> bool | None:
        """True if the export was pausing at ``instant`` (past the settling moment), False if working, else None."""
        index = bisect.bisect_right(self._starts, instant) - 1
        if index < 0:
            return None
        start, end, paused = self._intervals[index]
        if instant > end:
            return None
        if paused:
            return True if instant >= start + self.SETTLE else None
        return False

    def _decide(self, now: float) -> None:
        samples = self.read_samples(now - self.WINDOW)
        recent = [(start, ms) for start, ms in samples if start >= now - self.RECENT]
        self.site_busy = len(recent) >= self.MIN_REQUESTS
        if not self.site_busy:  # nobody to slow down
            self.ratio = 0.0
            return
        working = [ms for start, ms in recent if self._state_at(start) is False]
        pausing = [ms for start, ms in samples if self._state_at(start) is True]
        if len(working) < self.MIN_REQUESTS or len(pausing) < self.MIN_REQUESTS:
            return  # the next probe pause gives a baseline
        working_ms, paused_ms = statistics.median(working), statistics.median(pausing)
        if working_ms > paused_ms * (1 + self.tolerance):
            self.ratio = min(max(self.ratio * 2, self.MIN_RATIO), self.max_ratio)
        elif working_ms <= paused_ms * (1 + self.tolerance / 2):
            self.ratio = self.ratio * 0.75 if self.ratio >= self.MIN_RATIO / 4 else 0.0
        self.reading = Reading(working_ms, paused_ms, len(working), len(pausing), self.ratio)
