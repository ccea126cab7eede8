"""config/schedule (SPEC §7): GET/PUT/DELETE with the compatible body."""

from __future__ import annotations

from datetime import datetime

import pytest
from django_q.models import Schedule

from exports.models import AuditEntry, ExportSchedule

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db
URL = f"{BASE}config/schedule"

BODY = {"days": ["mon", "sat"], "repeatIntervalInWeeks": 2, "time": "02:30:00", "schemaVersion": 2}


def test_no_schedule_is_404(api):
    assert_error(api.get(URL), 404, "schedule.not.found", contains="No export schedule")


def test_set_get_delete(api, superuser, settings):
    settings.TIME_ZONE = "Europe/Paris"
    response = api.put(URL, {**BODY, "fromDate": "2026-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["days"] == ["mon", "sat"]
    assert body["repeatIntervalInWeeks"] == 2
    assert body["time"] == "02:30:00"
    assert body["schemaVersion"] == 2
    assert datetime.fromisoformat(body["fromDate"]) == datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    next_run = datetime.fromisoformat(body["nextRunTime"])
    assert next_run.strftime("%a %H:%M:%S") in {"Mon 02:30:00", "Sat 02:30:00"}
    assert next_run.utcoffset() is not None
    assert body["timeZone"] == "Europe/Paris"
    assert body["enabled"] is True
    assert api.get(f"{ALIAS}config/schedule").json() == body
    assert Schedule.objects.filter(repeats=1).count() == 1  # the django-q2 trigger is armed
    assert AuditEntry.objects.get(action="schedule.set").user == superuser

    deleted = api.delete(URL)
    assert deleted.status_code == 204
    assert ExportSchedule.objects.count() == 0
    assert_error(api.get(URL), 404, "schedule.not.found")
    assert AuditEntry.objects.get(action="schedule.delete").via == "api"


def test_rolling_window_default_and_disabled(api):
    body = api.put(URL, {**BODY, "enabled": False}, format="json").json()
    assert body["fromDate"] is None
    assert body["rollingWindowMonths"] == 12
    assert body["enabled"] is False
    assert body["nextRunTime"] is None


@pytest.mark.parametrize(
    ("change", "key", "contains"),
    [
        ({"days": ["funday"]}, "schedule.days.invalid", "'funday' is not a weekday"),
        ({"days": []}, "schedule.days.invalid", "at least one weekday"),
        ({"repeatIntervalInWeeks": 53}, "schedule.repeat.interval.invalid", "from 1 to 52"),
        ({"repeatIntervalInWeeks": 0}, "schedule.repeat.interval.invalid", "from 1 to 52"),
        ({"time": "25:00:00"}, "schedule.time.invalid", "HH:mm:ss"),
        ({"time": "2:30"}, "schedule.time.invalid", "HH:mm:ss"),
        ({"fromDate": "2026-01-01T00:00:00"}, "export.from.date.invalid", "no time-zone offset"),
        ({"schemaVersion": 9}, "export.schema.version.missing", "not supported"),
        ({"days": "mon"}, "request.invalid", "days: Expected a list of items"),
        ({"repeatIntervalInWeeks": "often"}, "request.invalid", "repeatIntervalInWeeks: A valid integer is required."),
        ({"startDay": "mon"}, "request.invalid", "startDay: Unknown field 'startDay'"),
    ],
)
def test_bad_schedules_are_400(api, change, key, contains):
    assert_error(api.put(URL, {**BODY, **change}, format="json"), 400, key, contains=contains)
    assert ExportSchedule.objects.count() == 0
    assert AuditEntry.objects.get().outcome == "refused"


def test_missing_fields_are_400(api):
    body = assert_error(
        api.put(URL, {}, format="json"), 400, "request.invalid", contains="days: This field is required."
    )
    assert {e["message"].split(":")[0] for e in body["errors"]} == {"days", "repeatIntervalInWeeks", "time"}
