"""Clock helpers for the schedule tests: local wall-clock instants and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """An aware datetime for a wall-clock time in ``zone``."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)


@contextmanager
def frozen(moment: datetime) -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller
