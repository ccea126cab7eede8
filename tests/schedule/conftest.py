"""Fixtures for the schedule tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def zone(settings) -> Callable[[str], str]:
    """Set TIME_ZONE for one test: ``zone("Europe/Berlin")``."""

    def set_zone(name: str) -> str:
        settings.TIME_ZONE = name
        return name

    return set_zone
