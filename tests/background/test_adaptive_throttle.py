"""The adaptive throttle: pauses only while the export slows the site's requests, and then enough.

A simulated site sends a request every 25 ms; each takes ``base_ms`` while the export pauses and
``base_ms * slowdown`` while it works. The export works in 0.1 s batches and pauses as the throttle
says, on a simulated clock, so a minute of export runs in well under a second.
"""

from __future__ import annotations

import statistics

import pytest

from datapipeline.throttle import AdaptiveThrottle


class SimulatedSite:
    def __init__(self, *, slowdown: float, base_ms: float = 7.0, interval: float = 0.025, busy: bool = True):
        self.slowdown, self.base_ms, self.interval, self.busy = slowdown, base_ms, interval, busy
        self.requests: list[tuple[float, float]] = []
        self.next_request = 0.0

    def run(self, start: float, end: float, *, working: bool) -> None:
        """Serve the requests that start in [start, end)."""
        self.next_request = max(self.next_request, start)
        while self.busy and self.next_request < end:
            ms = self.base_ms * (self.slowdown if working else 1.0)
            self.requests.append((self.next_request, ms))
            self.next_request += self.interval

    def samples_since(self, since: float) -> list[tuple[float, float]]:
        return [r for r in self.requests if r[0] >= since]


def simulate(site: SimulatedSite, seconds: float) -> tuple[AdaptiveThrottle, float]:
    """Export for ``seconds`` of simulated time; return the throttle and the share of time spent working."""
    now = [1_000.0]
    throttle = AdaptiveThrottle(read_samples=site.samples_since, clock=lambda: now[0])
    worked = 0.0
    end = now[0] + seconds
    while now[0] < end:
        site.run(now[0], now[0] + 0.1, working=True)
        now[0] += 0.1
        worked += 0.1
        pause = throttle.pause_after(0.1)
        if pause > 0:
            site.run(now[0], now[0] + pause, working=False)
            now[0] += pause
            throttle.paused(pause)
    return throttle, worked / seconds


def test_on_an_idle_site_the_export_never_pauses():
    _throttle, working_share = simulate(SimulatedSite(slowdown=2.0, busy=False), 120)
    assert working_share > 0.99


def test_when_the_export_does_not_slow_the_site_it_pauses_only_to_probe():
    throttle, working_share = simulate(SimulatedSite(slowdown=1.0), 120)
    assert throttle.ratio == 0.0
    assert working_share > 0.9  # one second in fifteen at most, to keep the baseline fresh


def test_when_the_export_slows_the_site_it_backs_off_until_most_requests_see_no_export():
    site = SimulatedSite(slowdown=1.3)
    throttle, working_share = simulate(site, 120)
    assert throttle.ratio >= 1.0
    assert throttle.reading is not None
    assert throttle.reading.working_ms > throttle.reading.paused_ms * 1.03
    # What a user of the site notices: over the last minute the median request is as fast as without the export.
    last_minute = [ms for start, ms in site.requests if start >= site.requests[-1][0] - 60]
    assert statistics.median(last_minute) <= site.base_ms * 1.05
    assert working_share < 0.6


def test_when_the_load_goes_away_the_export_speeds_up_again():
    site = SimulatedSite(slowdown=1.5)
    throttle, _share = simulate(site, 60)
    assert throttle.ratio > 0
    site.busy = False
    now = [site.requests[-1][0] + 1]
    throttle.clock = lambda: now[0]
    for _ in range(40):  # 20 s of work on a quiet site
        now[0] += 0.5
        assert throttle.pause_after(0.5) >= 0
    assert throttle.ratio == 0.0
    assert throttle.pause_after(0.5) == 0.0


@pytest.mark.parametrize("slowdown", [1.1, 2.0, 5.0])
def test_the_pause_ratio_never_exceeds_its_cap(slowdown):
    throttle, _share = simulate(SimulatedSite(slowdown=slowdown), 180)
    assert 0 < throttle.ratio <= throttle.max_ratio
