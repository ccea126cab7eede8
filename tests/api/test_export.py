"""POST/GET/DELETE export: start, status, cancel — status codes and bodies field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from exports.models import AuditEntry, ExportJob, JobStatus

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db

JOB_FIELDS = {
    "jobId",
    "nodeId",
    "status",
    "startTime",
    "completedTime",
    "cancelledTime",
    "schema",
    "config",
    "statistics",
    "warnings",
    "errors",
    "rootExportPath",
    "optedOutEntities",
}


def make_job(status: str = JobStatus.COMPLETED, **fields) -> ExportJob:
    now = timezone.now()
    defaults = {
        "status": status,
        "node_id": "node-a",
        "schema_version": 2,
        "export_from": now - timedelta(days=365),
        "root_export_path": "/data/export",
        "completed_time": None if status in (JobStatus.STARTED, JobStatus.CANCELLATION_REQUESTED) else now,
    }
    defaults.update(fields)
    return ExportJob.objects.create(**defaults)


def test_start_returns_202_and_the_job_body(api, superuser, export_root, settings):
    settings.DATAPIPELINE_NODE_ID = "web-1"
    response = api.post(f"{BASE}export?fromDate=2026-01-31T10:15:42%2B01:00&schemaVersion=2")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) >= JOB_FIELDS
    job = ExportJob.objects.get()
    assert body["jobId"] == job.pk
    assert body["nodeId"] == "web-1"
    assert body["status"] == "STARTED"
    assert datetime.fromisoformat(body["startTime"]) == job.start_time.replace(microsecond=0)
    assert body["completedTime"] is None
    assert body["cancelledTime"] is None
    assert body["schema"] == {"version": 2, "status": "ACTIVE"}
    # fromDate truncated to the minute, shown in UTC
    assert body["config"] == {
        "exportFrom": "2026-01-31T09:15:00Z",
        "forcedExport": False,
        "sinceJobId": None,
        "changesSince": None,
        "format": "csv",
        "reconcile": False,
    }
    assert body["statistics"]["exportedEntities"] == 0
    assert body["statistics"]["writtenRows"] == 0
    # the truncation is said once, in the job's warnings (both values, in UTC)
    assert body["warnings"] == [
        {
            "key": "export.from.date.truncated",
            "message": "fromDate 2026-01-31T09:15:42Z was truncated to the minute: "
            "the export starts from 2026-01-31T09:15:00Z.",
        }
    ]
    assert job.warnings == body["warnings"]
    assert body["errors"] == []
    assert body["rootExportPath"] == str(export_root)
    assert body["optedOutEntities"] == [{"type": "SPACE", "identifiers": []}]
    assert job.trigger == "api"
    assert job.triggered_by == superuser
    audit = AuditEntry.objects.get(action="export.start")
    assert (audit.user, audit.via, audit.outcome, audit.details["jobId"]) == (superuser, "api", "ok", job.pk)


def test_start_with_deprecated_schema_and_force_export(api):
    response = api.post(f"{ALIAS}export?schemaVersion=1&forceExport=true")
    assert response.status_code == 202
    body = response.json()
    assert body["schema"] == {"version": 1, "status": "DEPRECATED"}
    assert body["config"]["forcedExport"] is True
    assert [w["key"] for w in body["warnings"]] == ["export.schema.version.deprecated"]


def test_default_from_date_is_a_year_ago(api):
    body = api.post(f"{BASE}export").json()
    export_from = datetime.fromisoformat(body["config"]["exportFrom"])
    expected = timezone.now() - timedelta(days=365)
    assert abs(export_from - expected) < timedelta(minutes=2)


def test_second_start_gets_409_with_the_running_job(api):
    running = api.post(f"{BASE}export").json()
    response = api.post(f"{BASE}export")
    body = assert_error(response, 409, "export.already.running", contains=f"Export {running['jobId']}")
    # the running job's body, plus the error fields
    assert body["jobId"] == running["jobId"]
    assert body["status"] == "STARTED"
    assert set(body) >= JOB_FIELDS
    assert ExportJob.objects.count() == 1
    refused = AuditEntry.objects.get(action="export.start", outcome="refused")
    assert refused.details["statusCode"] == 409


def test_pre_validation_failure_gives_422_with_the_failed_job(api, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.minimum.usable.disk.space.after.export": 10**9}
    response = api.post(f"{BASE}export")
    assert response.status_code == 422
    body = response.json()
    assert body["statusCode"] == 422
    assert body["status"] == "FAILED"
    assert body["jobId"] == ExportJob.objects.get().pk
    assert [e["key"] for e in body["errors"]] == ["export.pre.validation.failed"]
    assert "free disk space" in body["errors"][0]["message"]
    assert body["completedTime"] is not None
    assert "forceExport" in body["message"]
    # forceExport turns it into a warning and the export starts
    forced = api.post(f"{BASE}export?forceExport=true")
    assert forced.status_code == 202
    assert [w["key"] for w in forced.json()["warnings"]] == ["export.pre.validation.failed"]


@pytest.mark.parametrize(
    ("query", "key", "contains"),
    [
        ("fromDate=2026-01-31T10:00:00", "export.from.date.invalid", "no time-zone offset"),
        ("fromDate=yesterday", "export.from.date.invalid", "not an ISO 8601"),
        ("fromDate=2999-01-01T00:00:00Z", "export.from.date.invalid", "in the future"),
        ("fromDate=0001-01-01T00:00:00%2B01:00", "export.from.date.invalid", "0001-01-01"),
        ("schemaVersion=7", "export.schema.version.missing", "supported versions: 2, 1"),
        ("schemaVersion=two", "export.schema.version.missing", "'two'"),
        ("forceExport=maybe", "request.invalid", "forceExport"),
        ("fromDate=", "request.invalid", "fromDate: This field may not be blank."),
        ("schemaVersion=", "request.invalid", "schemaVersion: This field may not be blank."),
        ("forceExport=", "request.invalid", "forceExport: Must be a valid boolean."),
        ("fromdate=2026-01-01T00:00:00Z", "request.invalid", "fromdate"),
    ],
)
def test_start_with_bad_parameters_gets_400(api, query, key, contains):
    response = api.post(f"{BASE}export?{query}")
    assert_error(response, 400, key, contains=contains)
    assert ExportJob.objects.count() == 0


def test_status_before_any_export_is_200_with_an_empty_object(api):
    for prefix in (BASE, ALIAS):
        response = api.get(f"{prefix}export")
        assert response.status_code == 200
        assert response.json() == {}


def test_a_from_date_on_the_minute_gives_no_truncation_warning(api, export_root):
    body = api.post(f"{BASE}export?fromDate=2026-01-31T10:15:00Z").json()
    assert body["config"]["exportFrom"] == "2026-01-31T10:15:00Z"
    assert body["warnings"] == []


def test_status_shows_the_running_job_else_the_last(api):
    make_job(JobStatus.COMPLETED)
    last = make_job(JobStatus.FAILED)
    body = api.get(f"{BASE}export").json()
    assert (body["jobId"], body["status"]) == (last.pk, "FAILED")
    running = make_job(JobStatus.STARTED)
    make_job(JobStatus.COMPLETED)
    response = api.get(f"{ALIAS}export")
    assert response.status_code == 200
    assert response.json()["jobId"] == running.pk


def test_cancel_the_latest_job(api, superuser):
    job = make_job(JobStatus.STARTED)
    response = api.delete(f"{BASE}export")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"jobId", "status", "message"}
    assert body["jobId"] == job.pk
    assert body["status"] == "OK"
    assert f"export {job.pk} requested" in body["message"]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLATION_REQUESTED
    audit = AuditEntry.objects.get(action="export.cancel")
    assert (audit.user, audit.via, audit.outcome) == (superuser, "api", "ok")


def test_cancel_by_job_id_and_a_dead_worker_ends_at_once(api, settings):
    job = make_job(JobStatus.STARTED, heartbeat=timezone.now() - timedelta(hours=1))
    make_job(JobStatus.COMPLETED)  # not the latest: jobId picks the running one
    body = api.delete(f"{BASE}export?jobId={job.pk}").json()
    assert body["status"] == "OK"
    assert body["jobId"] == job.pk
    assert "at once" in body["message"]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_cancel_with_no_job_gives_409_warning(api):
    body = assert_error(api.delete(f"{BASE}export"), 409, "export.job.not.found", contains="no export to cancel")
    assert body["status"] == "WARNING"
    assert body["jobId"] is None


def test_cancel_of_a_finished_job_gives_409_warning(api):
    job = make_job(JobStatus.COMPLETED)
    body = assert_error(api.delete(f"{BASE}export?jobId={job.pk}"), 409, "export.job.already.finished")
    assert body["status"] == "WARNING"
    assert body["jobId"] == job.pk
    assert "COMPLETED" in body["message"]
    body = assert_error(api.delete(f"{BASE}export"), 409, "export.job.already.finished")
    assert body["jobId"] == job.pk


def test_cancel_of_an_unknown_job_id_gives_409_warning(api):
    body = assert_error(api.delete(f"{BASE}export?jobId=4242"), 409, "export.job.not.found", contains="4242")
    assert (body["status"], body["jobId"]) == ("WARNING", 4242)


@pytest.mark.parametrize(
    ("query", "contains"),
    [
        ("jobId=", "jobId: A valid integer is required."),
        ("jobId=%20", "jobId: A valid integer is required."),
        ("jobId=1.5", "jobId: A valid integer is required."),
        ("jobId=-1", "jobId"),
        ("jobId=0", "jobId"),
        ("jobId=abc", "jobId"),
        ("jobId=99999999999999999999999", "jobId"),
        ("job=1", "job"),
    ],
)
def test_cancel_with_a_bad_job_id_gets_400(api, query, contains):
    job = make_job(JobStatus.STARTED)
    assert_error(api.delete(f"{BASE}export?{query}"), 400, "request.invalid", contains=contains)
    assert AuditEntry.objects.get(action="export.cancel").outcome == "refused"
    job.refresh_from_db()
    assert job.status == JobStatus.STARTED  # nothing was cancelled


def test_times_are_utc_with_z(api):
    make_job(JobStatus.COMPLETED, start_time=datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC))
    body = api.get(f"{BASE}export").json()
    assert body["startTime"] == "2026-03-01T12:00:05Z"
