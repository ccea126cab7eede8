"""Fixtures of the Parquet and loader-kit tests (the Spark session is the suite's, tests/conftest.py)."""

from __future__ import annotations

from tests.engine.conftest import run_job  # noqa: F401 - real exports through the job path
