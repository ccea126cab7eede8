"""Ending a job whose worker died tidies its directory: partial files go, manifest.json tells what is complete."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from datapipeline.jobfiles import file_name, job_dir
from exports.configuration import property_set
from exports.jobs import export_cancel, job_reap_stale
from exports.models import ExportJob, JobStatus
from exports.services import export_start

pytestmark = pytest.mark.django_db

USERS_CSV = b"user_id,user_name\r\nu1,alice\r\nu2,bob\r\nu3,carol\r\n"


@pytest.fixture
def dead_job(settings) -> ExportJob:
    """A job killed while writing pages: users complete (3 rows), pages partial, heartbeat 60 s old."""
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 30
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    job = export_start(enqueue=False)
    statistics = {
        "exportedEntities": 1,
        "writtenRows": 3 + 40,
        "entities": {
            "users": {"rows": 3, "total": 3, "done": True},
            "spaces": {"rows": 0, "total": 0, "done": False},  # marked done only once its file is complete
            "pages": {"rows": 40, "total": 100, "done": False},
        },
    }
    ExportJob.objects.filter(pk=job.pk).update(
        heartbeat=timezone.now() - timedelta(seconds=60), node_id="node-dead", statistics=statistics
    )
    job.refresh_from_db()
    directory = job_dir(job)
    directory.mkdir(parents=True)
    (directory / file_name("users", job.pk, job.schema_version, job.start_time)).write_bytes(USERS_CSV)
    pages = file_name("pages", job.pk, job.schema_version, job.start_time)
    (directory / f".{pages}.partial").write_bytes(b"page_id\r\n" + b"1\r\n" * 40)
    (directory / "notes.txt").write_text("not the export's: stays")
    return job


def assert_tidied(job: ExportJob, status: str) -> None:
    directory = job_dir(job)
    users = file_name("users", job.pk, job.schema_version, job.start_time)
    assert sorted(p.name for p in directory.iterdir()) == sorted([users, "manifest.json", "notes.txt"])
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["files"] == [
        {
            "file": users,
            "entity": "users",
            "content": "rows",
            "schemaVersion": job.schema_version,
            "rows": 3,
            "bytes": len(USERS_CSV),
            "sha256": hashlib.sha256(USERS_CSV).hexdigest(),
        }
    ]
    assert manifest["job"]["status"] == status == manifest["outcome"]["status"]
    assert manifest["outcome"]["notExported"] == ["spaces", "pages", "comments", "analytics"]
    job.refresh_from_db()
    assert job.status == status
    assert job.statistics["writtenRows"] == 3 == manifest["job"]["statistics"]["writtenRows"]
    assert job.statistics["entities"]["pages"] == {"rows": 0, "total": 100, "done": False}
    assert (directory / "notes.txt").read_text() == "not the export's: stays"


def test_reaping_removes_the_partial_files_and_writes_the_manifest(dead_job):
    assert job_reap_stale() == [dead_job.pk]
    assert_tidied(dead_job, JobStatus.FAILED)


def test_cancelling_a_job_whose_worker_is_dead_does_the_same(dead_job):
    export_cancel(job_id=dead_job.pk)
    assert_tidied(dead_job, JobStatus.CANCELLED)


def test_a_symlink_named_like_a_partial_file_is_left_alone(dead_job, tmp_path: Path):
    directory = job_dir(dead_job)
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    spaces = file_name("spaces", dead_job.pk, dead_job.schema_version, dead_job.start_time)
    (directory / f".{spaces}.partial").symlink_to(target)

    assert job_reap_stale() == [dead_job.pk]

    assert (directory / f".{spaces}.partial").is_symlink() and target.read_text() == "keep"
    assert json.loads((directory / "manifest.json").read_text())["files"][0]["entity"] == "users"
