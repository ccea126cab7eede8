"""Fixtures every test shares: a private shared home per test, so exports never touch var/."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def shared_home(settings, tmp_path: Path) -> Path:
    home = tmp_path / "shared-home"
    settings.DATAPIPELINE_SHARED_HOME = home
    return home


@pytest.fixture(autouse=True)
def export_niceness(settings) -> None:
    # In-process exports must not lower the priority of the test process's threads for good;
    # tests/background/test_control.py turns it on in a thread of its own.
    settings.DATAPIPELINE_EXPORT_NICENESS = 0


@pytest.fixture
def export_root(shared_home: Path) -> Path:
    return shared_home / "data-pipeline" / "export"


@pytest.fixture
def on_postgres(settings) -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
