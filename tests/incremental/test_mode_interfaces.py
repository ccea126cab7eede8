"""mode=INCREMENTAL end to end through every interface: REST (export and schedule), the admin's start form
and schedule screen (Django test client), the export_start command and the scheduled task; bad values are
refused with the input layer's message (400 compatible body, a form error, a command error)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from datapipeline.isotime import iso_utc
from exports.inputs import parse_export_mode
from exports.jobs import job_run
from exports.models import ExportJob, ExportSchedule
from exports.schedules import run_scheduled_export, schedule_set
from exports.tokens import token_create
from tests.api.conftest import BASE, assert_error
from tests.incremental.sitegen import KEYS, SiteChanges, files_of, manifest, read_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet_exports(settings):
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
    }
    SiteChanges(7).build()


@pytest.fixture
def api(admin_user) -> APIClient:
    _token, raw = token_create(user=admin_user, name="automation")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_parse_export_mode_any_case_and_default():
    assert parse_export_mode(None) == parse_export_mode("") == parse_export_mode("full") == "FULL"
    assert parse_export_mode("Incremental") == parse_export_mode(" INCREMENTAL ") == "INCREMENTAL"


def test_rest_full_then_incremental_then_a_bad_mode(api):
    first = api.post(f"{BASE}export?mode=incremental&fromDate=2000-01-01T00:00:00Z").json()
    assert first["mode"] == "FULL"  # no completed export yet: it runs full and says so
    assert [w["key"] for w in first["warnings"]] == ["export.incremental.no.base"]
    assert first["config"]["sinceJobId"] is None and first["config"]["changesSince"] is None
    base = job_run(first["jobId"])
    assert manifest(base_dir := (files_of_dir(base)))["mode"] == "FULL"
    assert "no.base" in str(manifest(base_dir)["job"]["warnings"])

    response = api.post(f"{BASE}export?mode=InCrEmEnTaL&fromDate=2000-01-01T00:00:00Z")
    assert response.status_code == 202
    body = response.json()
    assert body["mode"] == "INCREMENTAL"
    assert body["config"]["sinceJobId"] == base.pk
    assert body["config"]["changesSince"] == iso_utc(base.start_time - timedelta(seconds=300))
    assert body["config"]["changesSince"].endswith("Z")
    job = job_run(body["jobId"])
    listed = manifest(files_of_dir(job))
    assert (listed["mode"], listed["baseJobId"], listed["changesUntil"]) == ("INCREMENTAL", base.pk, body["startTime"])
    files = files_of(files_of_dir(job))
    for entity, key in KEYS.items():
        assert read_csv(files[(entity, "deletedKeys")])[0] == [key, "deleted_date"]
    for item in listed["files"]:
        assert item["rows"] is not None and len(item["sha256"]) == 64 and item["bytes"] > 0
    assert api.get(f"{BASE}export").json()["mode"] == "INCREMENTAL"

    before = ExportJob.objects.count()
    bad = api.post(f"{BASE}export?mode=delta")
    assert_error(bad, 400, "export.mode.invalid", contains="'delta'")
    assert ExportJob.objects.count() == before


def files_of_dir(job):
    from datapipeline.jobfiles import job_dir

    return job_dir(job)


def test_rest_schedule_mode(api):
    url = f"{BASE}config/schedule"
    body = {"days": ["mon"], "repeatIntervalInWeeks": 1, "time": "02:00", "mode": "incremental"}
    assert api.put(url, body, format="json").status_code == 202
    assert api.get(url).json()["mode"] == "INCREMENTAL"
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    assert_error(api.put(url, {**body, "mode": "weekly"}, format="json"), 400, "export.mode.invalid", contains="weekly")
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    body.pop("mode")
    api.put(url, body, format="json")
    assert api.get(url).json()["mode"] == "FULL"


def test_admin_start_form(admin_client):
    url = reverse("admin:datapipeline_start")
    page = admin_client.get(reverse("admin:exports_exportjob_changelist")).content.decode()
    assert "Only what changed since the last export" in page
    admin_client.post(url, {"mode": "FULL", "from_date": "2000-01-01T00:00:00Z"})
    job_run(ExportJob.objects.get().pk)
    response = admin_client.post(url, {"mode": "INCREMENTAL", "from_date": "2000-01-01T00:00:00Z"})
    job = ExportJob.objects.first()
    assert f"Export {job.pk} started." in texts(response)
    assert job.mode == "INCREMENTAL" and job.since_job_id == job.pk - 1
    assert job_run(job.pk).status == "COMPLETED"

    response = admin_client.post(url, {"mode": "sometimes"})
    assert response.status_code == 400
    message = "mode 'sometimes' is not supported"
    assert any(message in m for m in texts(response))
    assert 'class="errorlist' in response.content.decode()
    assert ExportJob.objects.count() == 2


def test_admin_schedule_screen(admin_client):
    url = reverse("admin:datapipeline_schedule")
    data = {"enabled": "on", "days": ["mon"], "repeat_interval_weeks": "1", "time": "03:30", "window": "months",
            "rolling_window_months": "6", "rolling_window_days": "365", "from_date": "", "schema_version": "",
            "save": "1"}  # fmt: skip
    page = admin_client.get(url).content.decode()
    assert "Only what changed since the last export" in page
    admin_client.post(url, {**data, "mode": "INCREMENTAL"})
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    page = admin_client.get(url).content.decode()
    chosen = page[page.index('value="INCREMENTAL"') :].split(">")[0]
    assert "checked" in chosen
    response = admin_client.post(url, {**data, "mode": "hourly"})
    assert response.status_code == 400
    assert any("'hourly'" in m for m in texts(response))
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"


def test_command_incremental_and_a_bad_mode(capsys):
    call_command("export_start", "--foreground", "--from-date", "2000-01-01T00:00:00Z")
    call_command("export_start", "--foreground", "--incremental", "--from-date", "2000-01-01T00:00:00Z")
    full, incremental = ExportJob.objects.order_by("id")
    assert (full.mode, incremental.mode, incremental.since_job_id) == ("FULL", "INCREMENTAL", full.pk)
    assert incremental.status == "COMPLETED"
    assert "pages_deleted_job" in capsys.readouterr().out
    call_command("export_start", "--foreground", "--mode", "incremental")
    assert ExportJob.objects.first().mode == "INCREMENTAL"
    with pytest.raises(CommandError, match="'sideways'"):
        call_command("export_start", "--mode", "sideways")


def test_scheduled_incremental_export():
    job, _dir = None, None
    call_command("export_start", "--foreground")
    schedule = schedule_set(days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], repeat_interval_weeks=1,
                            time="02:00", mode="INCREMENTAL")  # fmt: skip
    outcome = run_scheduled_export(schedule.first_run.isoformat())
    job = ExportJob.objects.first()
    assert f"export {job.pk}" in outcome
    assert job.trigger == "schedule" and job.mode == "INCREMENTAL"


def test_export_schedule_command_mode_is_kept_and_checked():
    call_command("export_schedule", "set", "--days", "mon", "--time", "02:00", "--mode", "incremental")
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    call_command("export_schedule", "set", "--time", "03:00")  # changing another field keeps the mode
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    with pytest.raises(CommandError, match=r"--mode: .*'sometimes'"):
        call_command("export_schedule", "set", "--mode", "sometimes")
    assert ExportSchedule.objects.get().mode == "INCREMENTAL"
    call_command("export_schedule", "set", "--mode", "FULL")
    assert ExportSchedule.objects.get().mode == "FULL"
