"""fromDate offsets up to +-23:59 (valid ISO 8601, beyond PostgreSQL's +-15:59) are the same instant in UTC,
on every interface: REST export and schedule, the admin's start and schedule forms, ``export_start`` and
``export_schedule``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from exports.configuration import property_set
from exports.models import ExportJob, ExportSchedule

from .conftest import BASE

pytestmark = pytest.mark.django_db

# (what the user sends, the instant it names in UTC, to the minute)
OFFSETS = [
    ("2020-01-01T00:00:00+16:00", datetime(2019, 12, 31, 8, 0, tzinfo=UTC)),
    ("2020-01-01T00:00:00-23:59", datetime(2020, 1, 1, 23, 59, tzinfo=UTC)),
]


@pytest.fixture(autouse=True)
def no_disk_minimum():
    # The test machine's disk must not decide whether an export may start.
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_rest_export_start_accepts_the_offset_as_its_utc_instant(api, given, instant):
    response = api.post(f"{BASE}export?fromDate={given.replace('+', '%2B')}")
    assert response.status_code == 202, response.content
    assert response.json()["config"]["exportFrom"] == instant.isoformat().replace("+00:00", "Z")
    job = ExportJob.objects.get()
    job.refresh_from_db()
    assert job.export_from == instant


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_rest_schedule_accepts_the_offset_as_its_utc_instant(api, given, instant):
    body = {"days": ["mon"], "repeatIntervalInWeeks": 1, "time": "02:30:00", "fromDate": given}
    response = api.put(f"{BASE}config/schedule", body, format="json")
    assert response.status_code in (200, 202), response.content
    assert ExportSchedule.objects.get().from_date == instant


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_admin_start_form_accepts_the_offset_as_its_utc_instant(admin_client, given, instant):
    response = admin_client.post(reverse("admin:datapipeline_start"), {"from_date": given, "schema_version": "2"})
    assert response.status_code == 302
    assert ExportJob.objects.get().export_from == instant


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_export_start_command_accepts_the_offset_as_its_utc_instant(given, instant):
    out = StringIO()
    call_command("export_start", "--from-date", given, stdout=out, stderr=StringIO())
    body = json.loads(out.getvalue())
    assert body["config"]["exportFrom"] == instant.isoformat().replace("+00:00", "Z")
    assert ExportJob.objects.get().export_from == instant


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_admin_schedule_form_accepts_the_offset_as_its_utc_instant(admin_client, given, instant):
    data = {"enabled": "on", "days": ["mon"], "repeat_interval_weeks": "1", "time": "03:30", "window": "absolute",
            "from_date": given, "rolling_window_months": "", "rolling_window_days": "", "schema_version": "",
            "save": "1"}  # fmt: skip
    response = admin_client.post(reverse("admin:datapipeline_schedule"), data)
    assert response.status_code == 302
    assert ExportSchedule.objects.get().from_date == instant


@pytest.mark.parametrize(("given", "instant"), OFFSETS)
def test_export_schedule_command_accepts_the_offset_as_its_utc_instant(given, instant):
    call_command(
        "export_schedule", "set", "--days", "mon", "--time", "02:30:00", "--from-date", given, stdout=StringIO()
    )
    assert ExportSchedule.objects.get().from_date == instant
