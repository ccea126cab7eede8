"""Running exports in this process for the incremental-export tests (no lookback: changes count from the
base's start, so the tests see exactly what changed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.incremental.sitegen import FAR_PAST


@pytest.fixture
def run_job(settings):
    from datapipeline.jobfiles import job_dir
    from exports.jobs import job_run
    from exports.services import export_start

    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
        "plugin.data.pipeline.incremental.lookback.seconds": "0",
        "plugin.data.pipeline.export.batch.size": "7",  # several batches per file
    }

    def run(**params: Any) -> tuple[Any, Path]:
        params.setdefault("from_date", FAR_PAST)
        job = export_start(enqueue=False, **params)
        job = job_run(job.pk)
        assert job.status == "COMPLETED", job.errors
        return job, job_dir(job)

    return run
