"""format=parquet through every interface: REST (export and schedule body), the admin's start form and schedule
screen (Django test client), export_start / export_schedule --format and the scheduled task; bad values are
refused with the input layer's message (400 compatible body, a form error, a command error naming the value)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from datapipeline.jobfiles import job_dir
from exports.inputs import parse_export_format
from exports.jobs import job_run
from exports.models import ExportJob, ExportSchedule
from exports.schedules import run_scheduled_export, schedule_set
from tests.api.conftest import BASE, assert_error

# The mode tests' small site (autouse), token client and message texts serve the format tests as they are.
from tests.incremental.test_mode_interfaces import api, quiet_exports, texts  # noqa: F401

pytestmark = pytest.mark.django_db


def data_files(job) -> list[str]:
    """The data files the job's manifest lists."""
    manifest = json.loads((job_dir(job) / "manifest.json").read_text())
    return [f["file"] for f in manifest["files"]]


def assert_parquet_job(job) -> None:
    assert job.status == "COMPLETED", job.errors
    assert job.file_format == "parquet"
    files = data_files(job)
    assert files and all(name.endswith(".parquet") for name in files), files
    assert (job_dir(job) / "loaders" / "duckdb.sql").is_file()


def test_parse_export_format_any_case_and_default():
    assert parse_export_format(None) == parse_export_format("") == parse_export_format("CSV") == "csv"
    assert parse_export_format("Parquet") == parse_export_format(" PARQUET ") == "parquet"


def test_rest_export_parquet_then_a_bad_format(api):  # noqa: F811 - the imported fixture
    response = api.post(f"{BASE}export?format=PaRqUeT&fromDate=2000-01-01T00:00:00Z")
    assert response.status_code == 202, response.content
    assert response.json()["config"]["format"] == "parquet"
    assert_parquet_job(job_run(response.json()["jobId"]))
    before = ExportJob.objects.count()
    assert_error(api.post(f"{BASE}export?format=xlsx"), 400, "export.format.invalid", contains="'xlsx'")
    assert ExportJob.objects.count() == before


def test_rest_schedule_format_round_trip_and_a_bad_value(api):  # noqa: F811 - the imported fixture
    url = f"{BASE}config/schedule"
    body = {"days": ["mon"], "repeatIntervalInWeeks": 1, "time": "02:00", "format": "PARQUET"}
    assert api.put(url, body, format="json").status_code == 202
    assert api.get(url).json()["format"] == "parquet"
    assert ExportSchedule.objects.get().file_format == "parquet"
    bad = api.put(url, {**body, "format": "orc"}, format="json")
    assert_error(bad, 400, "export.format.invalid", contains="'orc'")
    assert ExportSchedule.objects.get().file_format == "parquet"  # a refused body changes nothing
    body.pop("format")
    assert api.put(url, body, format="json").status_code == 202
    assert api.get(url).json()["format"] == "csv"


def test_admin_start_form_format_choice_and_error(admin_client):
    url = reverse("admin:datapipeline_start")
    page = admin_client.get(reverse("admin:exports_exportjob_changelist")).content.decode()
    assert 'name="file_format"' in page and 'value="parquet"' in page
    response = admin_client.post(url, {"file_format": "parquet", "from_date": "2000-01-01T00:00:00Z"})
    job = ExportJob.objects.get()
    assert f"Export {job.pk} started." in texts(response)
    assert_parquet_job(job_run(job.pk))

    response = admin_client.post(url, {"file_format": "feather"})
    assert response.status_code == 400
    assert any("format 'feather' is not supported" in m for m in texts(response))
    assert 'class="errorlist' in response.content.decode()
    assert ExportJob.objects.count() == 1


def test_admin_schedule_screen_format(admin_client):
    url = reverse("admin:datapipeline_schedule")
    data = {"enabled": "on", "days": ["mon"], "repeat_interval_weeks": "1", "time": "03:30", "window": "months",
            "rolling_window_months": "6", "rolling_window_days": "365", "from_date": "", "schema_version": "",
            "mode": "FULL", "save": "1"}  # fmt: skip
    assert 'name="file_format"' in admin_client.get(url).content.decode()
    admin_client.post(url, {**data, "file_format": "parquet"})
    assert ExportSchedule.objects.get().file_format == "parquet"
    page = admin_client.get(url).content.decode()
    chosen = page[page.index('value="parquet"') :].split(">")[0]
    assert "selected" in chosen
    assert "as PARQUET" in page
    response = admin_client.post(url, {**data, "file_format": "avro"})
    assert response.status_code == 400
    assert any("'avro'" in m for m in texts(response))
    assert ExportSchedule.objects.get().file_format == "parquet"


def test_export_start_format_and_a_bad_one(capsys):
    call_command("export_start", "--foreground", "--format", "Parquet", "--from-date", "2000-01-01T00:00:00Z")
    assert_parquet_job(ExportJob.objects.get())
    assert ".parquet" in capsys.readouterr().out
    with pytest.raises(CommandError, match="'csvx'"):
        call_command("export_start", "--format", "csvx")
    assert ExportJob.objects.count() == 1


def test_export_schedule_format_and_a_bad_one(capsys):
    call_command("export_schedule", "set", "--days", "mon", "--time", "02:00", "--format", "parquet")
    assert ExportSchedule.objects.get().file_format == "parquet"
    call_command("export_schedule", "set", "--time", "03:00")  # other changes keep the format
    assert ExportSchedule.objects.get().file_format == "parquet"
    with pytest.raises(CommandError, match=r"--format: format 'json' is not supported"):
        call_command("export_schedule", "set", "--format", "json")
    assert ExportSchedule.objects.get().file_format == "parquet"
    call_command("export_schedule", "set", "--format", "CSV")
    assert ExportSchedule.objects.get().file_format == "csv"


def test_scheduled_parquet_export():
    schedule = schedule_set(days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], repeat_interval_weeks=1,
                            time="02:00", file_format="parquet")  # fmt: skip
    run_scheduled_export(schedule.first_run.isoformat())
    job = ExportJob.objects.get()
    assert job.trigger == "schedule"
    assert_parquet_job(job if job.status == "COMPLETED" else job_run(job.pk))
