"""Fixtures: the nasty site, and running an export through the service and the runner in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine.sitedata import FROM_DATE, build_nasty_site


@pytest.fixture
def nasty_site(db) -> dict[str, Any]:
    return build_nasty_site()


@pytest.fixture
def run_job(settings):
    """Start an export through the service (not queued) and run it here; returns (job, job directory)."""
    from datapipeline.jobfiles import job_dir
    from exports.jobs import job_run
    from exports.services import export_start

    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
        **getattr(settings, "DATAPIPELINE_PROPERTIES", {}),
    }

    def run(**params: Any) -> tuple[Any, Path]:
        params.setdefault("from_date", FROM_DATE.isoformat())
        job = export_start(enqueue=False, **params)
        job = job_run(job.pk)
        return job, job_dir(job)

    return run
