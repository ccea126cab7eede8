"""export_start --wait: queue the job for the cluster and follow it to the end."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exports.models import ExportJob, JobStatus


@pytest.fixture
def quiet(settings):
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
    }


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_wait_follows_the_queued_job_to_completion(transactional_db, nasty_site, quiet, monkeypatch, export_root):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # the queued task runs at commit, as a worker would
    out, err = run("export_start", "--wait", "--from-date", "2026-01-01T00:00:00Z")
    body = json.loads(out[out.index("{\n") : out.index("\n}\n") + 2])
    assert body["status"] == "COMPLETED"
    # A healthy run writes nothing to stderr: the waiting line and the progress go to stdout.
    assert err == ""
    assert out.startswith(f"Export {body['jobId']} queued; waiting for the task cluster (manage.py qcluster) to run it")
    for entity in ["users", "spaces", "pages", "comments", "analytics"]:
        last = [line for line in out.splitlines() if line.startswith(entity)][-1]
        assert re.search(rf"^{entity} +\[#{{30}}\] +(\d+)/\1 rows", last), last
    assert f"Files in {export_root / str(body['jobId'])}" in out
    assert "users_job" in out and "manifest.json" in out


def test_wait_without_a_cluster_gives_up_with_a_clear_message(transactional_db, quiet):
    with pytest.raises(CommandError, match=r"still STARTED after 1 s; it goes on in the background"):
        run("export_start", "--wait", "--wait-timeout", "1")
    job = ExportJob.objects.get()
    assert job.status == JobStatus.STARTED  # nothing was cancelled by giving up


def test_wait_and_foreground_exclude_each_other(db):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("export_start", "--wait", "--foreground")
