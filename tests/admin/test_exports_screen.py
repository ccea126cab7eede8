"""The Data pipeline screen: start an export, Export details, View details, cancel, progress."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from datapipeline.errors import InvalidParameter
from exports.configuration import property_set
from exports.inputs import parse_from_date, parse_schema_version
from exports.jobs import job_run
from exports.models import AuditEntry, ExportJob, JobStatus
from exports.selectors import job_to_dict

from .conftest import make_job, make_site

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def start_url():
    return reverse("admin:datapipeline_start")


@pytest.fixture(autouse=True)
def no_disk_minimum():
    # The test machine's disk must not decide whether an export may start.
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")


def test_screen_shows_the_sections_and_the_start_form(admin_client, pipeline_url):
    response = admin_client.get(pipeline_url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Data pipeline" in body
    for label in ["Start an export", "Export details", "Schedule", "Opt-out list", "Export path",
                  "Configuration properties", "Access tokens"]:  # fmt: skip
        assert label in body
    assert '<option value="2" selected>2 (ACTIVE)</option>' in body
    assert '<option value="1">1 (DEPRECATED)</option>' in body
    # The script's name carries its content hash once collectstatic has run (the install step runs it).
    assert re.search(r"/static/datapipeline/progress(\.[0-9a-f]{12})?\.js", body), body
    assert "No exports yet." in body


def test_start_export_queues_a_job_and_says_so(admin_client, admin_user, start_url, pipeline_url):
    response = admin_client.post(start_url, {"from_date": "2026-01-31T10:15:42+01:00", "schema_version": "2"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == pipeline_url
    # the job's warning about the truncated fromDate is shown too
    assert texts(response) == [
        f"Export {job.pk} started.",
        "fromDate 2026-01-31T09:15:42Z was truncated to the minute: the export starts from 2026-01-31T09:15:00Z.",
    ]
    assert job.status == JobStatus.STARTED
    assert job.trigger == "admin" and job.triggered_by == admin_user
    assert job_to_dict(job)["config"] == {
        "exportFrom": "2026-01-31T09:15:00Z",
        "forcedExport": False,
        "sinceJobId": None,
        "changesSince": None,
        "format": "csv",
        "reconcile": False,
    }
    assert AuditEntry.objects.filter(action="export.start", via="admin", user=admin_user).exists()


def test_start_export_with_defaults_uses_the_default_version_and_window(admin_client, start_url):
    admin_client.post(start_url, {})
    job = ExportJob.objects.get()
    assert job.schema_version == 2
    assert abs((timezone.now() - job.export_from) - timedelta(days=365)) < timedelta(minutes=2)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"from_date": "31/01/2026"}, lambda: parse_from_date("31/01/2026")),
        ({"from_date": "2026-01-31T00:00:00"}, lambda: parse_from_date("2026-01-31T00:00:00")),
        ({"from_date": "2999-01-01T00:00:00Z"}, lambda: parse_from_date("2999-01-01T00:00:00Z")),
        ({"schema_version": "7"}, lambda: parse_schema_version("7")),
        ({"schema_version": "two"}, lambda: parse_schema_version("two")),
    ],
)
def test_bad_parameters_give_the_services_message_and_start_nothing(admin_client, start_url, data, expected):
    with pytest.raises(InvalidParameter) as excinfo:
        expected()
    response = admin_client.post(start_url, data)
    assert response.status_code == 400
    assert excinfo.value.message in texts(response)
    body = response.content.decode()
    assert "errornote" in body or "errorlist" in body
    assert 'class="errorlist' in body  # the field is marked
    assert ExportJob.objects.count() == 0


def test_deprecated_version_starts_with_a_warning(admin_client, start_url):
    response = admin_client.post(start_url, {"schema_version": "1"})
    job = ExportJob.objects.get()
    assert job.schema_version == 1
    messages = texts(response)
    assert f"Export {job.pk} started." in messages
    assert any("deprecated" in m for m in messages)


def test_second_export_while_one_runs_is_refused(admin_client, start_url):
    running = make_job(status=JobStatus.STARTED, heartbeat=timezone.now())
    response = admin_client.post(start_url, {})
    assert response.status_code == 302
    assert texts(response) == [
        f"Export {running.pk} is already running (status STARTED); only one export can run at a time."
    ]
    assert ExportJob.objects.count() == 1


def test_pre_validation_failure_records_a_failed_job_and_force_turns_it_into_a_warning(admin_client, start_url):
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="999999999")
    response = admin_client.post(start_url, {})
    failed = ExportJob.objects.get()
    assert failed.status == JobStatus.FAILED
    messages = texts(response)
    assert messages[0] == f"Export {failed.pk} failed its pre-validation and did not run."
    assert "Not enough free disk space" in messages[1]

    response = admin_client.post(start_url, {"force_export": "on"})
    forced = ExportJob.objects.exclude(pk=failed.pk).get()
    assert forced.status == JobStatus.STARTED and forced.forced_export
    messages = texts(response)
    assert f"Export {forced.pk} started." in messages
    assert any("Not enough free disk space" in m for m in messages)


def test_get_on_the_start_url_starts_nothing(admin_client, start_url, pipeline_url):
    response = admin_client.get(start_url)
    assert response.status_code == 302 and response["Location"] == pipeline_url
    assert ExportJob.objects.count() == 0


def test_export_details_table_newest_first_with_the_columns(admin_client, pipeline_url):
    start = timezone.now() - timedelta(minutes=10)
    old = make_job(start_time=start, completed_time=start + timedelta(seconds=75), node_id="node-old")
    new = make_job(
        status=JobStatus.STARTED, start_time=timezone.now(), node_id="node-new",
        statistics={"exportedEntities": 2, "writtenRows": 1234, "entities": {}},
    )  # fmt: skip
    body = admin_client.get(pipeline_url).content.decode()
    assert body.index(f'data-job-id="{new.pk}"') < body.index(f'data-job-id="{old.pk}"')
    old_row = body[body.index(f'data-job-id="{old.pk}"') :].split("</tr>")[0]
    assert "COMPLETED" in old_row and "1 min 15 s" in old_row and "node-old" in old_row and ">42<" in old_row
    assert "View details" in old_row and "Cancel export" not in old_row
    new_row = body[body.index(f'data-job-id="{new.pk}"') :].split("</tr>")[0]
    assert "STARTED" in new_row and ">1234<" in new_row and "node-new" in new_row
    assert reverse("admin:datapipeline_cancel", args=[new.pk]) in new_row


def test_screen_queries_do_not_grow_with_the_jobs(admin_client, pipeline_url, django_assert_max_num_queries):
    for _ in range(20):
        make_job()
    with django_assert_max_num_queries(6):
        assert admin_client.get(pipeline_url).status_code == 200


def test_export_details_table_is_paged(admin_client, pipeline_url):
    jobs = [make_job() for _ in range(25)]
    first = admin_client.get(pipeline_url).content.decode()
    assert first.count("data-job-id=") == 20
    assert f'data-job-id="{jobs[-1].pk}"' in first and f'data-job-id="{jobs[4].pk}"' not in first
    assert 'href="?page=2"' in first and "Newer" not in first
    second = admin_client.get(pipeline_url, {"page": 2}).content.decode()
    assert second.count("data-job-id=") == 5
    assert f'data-job-id="{jobs[0].pk}"' in second
    assert 'href="?page=1"' in second and "?page=3" not in second
    assert admin_client.get(pipeline_url, {"page": "x"}).status_code == 200


def test_progress_json_returns_the_running_job_with_rows_per_entity(admin_client):
    url = reverse("admin:datapipeline_progress")
    assert admin_client.get(url).json() == {"active": False, "job": None}
    job = make_job(
        status=JobStatus.STARTED,
        statistics={
            "exportedEntities": 1,
            "writtenRows": 7,
            "entities": {
                "users": {"rows": 5, "total": 5, "done": True},
                "spaces": {"rows": 2, "total": 9, "done": False},
            },
        },
    )
    body = admin_client.get(url).json()
    assert body["active"] is True
    assert body["job"] == json.loads(json.dumps(job_to_dict(job)))
    assert body["progress"][:3] == [
        {"entity": "users", "rows": 5, "total": 5, "state": "done"},
        {"entity": "spaces", "rows": 2, "total": 9, "state": "running"},
        {"entity": "pages", "rows": 0, "total": None, "state": "waiting"},
    ]


def test_view_details_shows_escaped_json_and_the_manifest_files(admin_client, admin_user):
    make_site(spaces=2, pages_per_space=2)
    from exports.services import export_start

    job = export_start(trigger="admin", user=admin_user, enqueue=False)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    ExportJob.objects.filter(pk=job.pk).update(warnings=[{"key": "x", "message": "<script>alert(1)</script>"}])
    response = admin_client.get(reverse("admin:datapipeline_details", args=[job.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert f"&quot;jobId&quot;: {job.pk}," in body  # pretty-printed, one field a line
    manifest = json.loads((Path(job.root_export_path) / str(job.pk) / "manifest.json").read_text())
    assert len(manifest["files"]) == 5
    for f in manifest["files"]:
        row = body[body.index(f["file"]) :].split("</tr>")[0]
        assert f"<td>{f['rows']}</td>" in row and f"<td>{f['bytes']}</td>" in row and f["sha256"] in row
    pages = next(f for f in manifest["files"] if f["entity"] == "pages")
    assert pages["rows"] == 4


def test_view_details_of_an_unknown_job_is_404(admin_client):
    assert admin_client.get(reverse("admin:datapipeline_details", args=[999])).status_code == 404


def test_cancel_asks_for_confirmation_then_requests_cancellation(admin_client, admin_user, pipeline_url):
    job = make_job(status=JobStatus.STARTED, heartbeat=timezone.now())
    url = reverse("admin:datapipeline_cancel", args=[job.pk])
    page = admin_client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert '<form method="post">' in body and "csrfmiddlewaretoken" in body
    assert f"Yes, cancel export {job.pk}" in body
    job.refresh_from_db()
    assert job.status == JobStatus.STARTED  # a GET changes nothing

    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == pipeline_url
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLATION_REQUESTED
    assert texts(response) == [
        f"Cancellation of export {job.pk} requested; it stops within seconds and ends CANCELLED."
    ]
    assert AuditEntry.objects.filter(action="export.cancel", via="admin", user=admin_user).exists()


def test_a_job_whose_worker_died_is_marked_cancelled_at_once(admin_client, settings):
    stale = timezone.now() - timedelta(seconds=settings.DATAPIPELINE_HEARTBEAT_TIMEOUT + 60)
    job = make_job(status=JobStatus.STARTED, heartbeat=stale, node_id="node-gone")
    url = reverse("admin:datapipeline_cancel", args=[job.pk])
    body = admin_client.get(url).content.decode()
    assert "has sent no heartbeat" in body and "Yes, mark it cancelled" in body and "node-gone" in body
    response = admin_client.post(url)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.cancelled_time is not None
    assert texts(response) == [f"Export {job.pk} was marked cancelled: its worker had stopped responding."]


def test_cancel_of_a_finished_job_is_refused_with_the_services_message(admin_client):
    job = make_job(status=JobStatus.COMPLETED)
    url = reverse("admin:datapipeline_cancel", args=[job.pk])
    response = admin_client.get(url)
    assert response.status_code == 302
    assert texts(response) == [f"Export {job.pk} has already finished (COMPLETED); there is nothing to cancel."]
    response = admin_client.post(url)
    assert response.status_code == 302
    assert texts(response)[-1] == f"Export {job.pk} has already finished (COMPLETED)."
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_cancel_of_an_unknown_job_is_404(admin_client):
    assert admin_client.post(reverse("admin:datapipeline_cancel", args=[999])).status_code == 404
