"""The foreground progress display: a redrawn bar on a terminal, periodic plain lines otherwise."""

from __future__ import annotations

import io

from django.core.management.base import OutputWrapper

from exports.management.commands._progress import ProgressDisplay


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stats(rows: int, *, done: bool = False, seconds: float | None = None) -> dict:
    entity = {"rows": rows, "total": 1000, "done": done}
    if seconds is not None:
        entity["seconds"] = seconds
    return {"entities": {"pages": entity}}


def test_terminal_bar_is_redrawn_in_place_and_ends_with_a_newline():
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(OutputWrapper(out), tty=True, clock=clock)
    show(stats(0))
    clock.now = 1.0
    show(stats(500))
    clock.now = 2.0
    show(stats(1000, done=True, seconds=2.0))
    text = out.getvalue()
    assert text.count("\r\033[K") == 3
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "[" + "#" * 15 + "." * 15 + "]         500/1,000 rows 500 rows/s" in text
    assert text.rstrip("\n").endswith("[" + "#" * 30 + "]       1,000/1,000 rows 500 rows/s")


def test_plain_lines_at_most_every_five_seconds_and_one_when_done():
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(OutputWrapper(out), tty=False, clock=clock)
    for second in range(12):
        clock.now = float(second)
        show(stats(second * 10))
    show(stats(1000, done=True, seconds=12.0))
    show(stats(1000, done=True, seconds=12.0))  # a later flush does not repeat the finished entity
    lines = out.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["0/1,000", "50/1,000", "100/1,000", "1,000/1,000"]
    assert "\r" not in out.getvalue()
