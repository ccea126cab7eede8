"""Progress display for ``export_start --foreground``: a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import Any

BAR_WIDTH = 30
LINE_INTERVAL = 5.0  # seconds between plain progress lines when the output is not a terminal


class ProgressDisplay:
    """Called with the job's statistics after each flush; draws rows per entity against its total."""

    def __init__(self, stream: Any, *, tty: bool, clock: Any = time.monotonic):
        self.stream = stream
        self.tty = tty
        self.clock = clock
        self._last_line = -LINE_INTERVAL
        self._finished: set[str] = set()
        self._started: dict[str, float] = {}
        self._drawn = False

    def __call__(self, statistics: dict[str, Any]) -> None:
        now = self.clock()
        for name, entity in statistics.get("entities", {}).items():
            self._started.setdefault(name, now)
            if name in self._finished:
                continue
            if entity.get("done"):
                self._finished.add(name)
                self._write(self._line(name, entity, now), final=True)
            elif self.tty or now - self._last_line >= LINE_INTERVAL:
                self._last_line = now
                self._write(self._line(name, entity, now), final=False)

    def _line(self, name: str, entity: dict[str, Any], now: float) -> str:
        rows = entity.get("rows", 0)
        total = entity.get("total")
        elapsed = entity.get("seconds") or max(now - self._started[name], 1e-9)
        rate = f"{rows / elapsed:,.0f} rows/s" if rows else ""
        if total:
            filled = min(BAR_WIDTH, round(BAR_WIDTH * rows / total))
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            return f"{name:<10} [{bar}] {rows:>11,}/{total:,} rows {rate}".rstrip()
        return f"{name:<10} {rows:>11,} rows {rate}".rstrip()

    def _write(self, line: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if final else ""), ending="")
            self.stream.flush()
        else:
            self.stream.write(line)
