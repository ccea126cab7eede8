"""config/schedule: GET/PUT/DELETE answered as Atlassian's Data pipeline answers them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django_q.models import Schedule

from exports.models import AuditEntry, ExportSchedule

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db
URL = f"{BASE}config/schedule"

BODY = {"days": ["mon", "sat"], "repeatIntervalInWeeks": 2, "time": "02:30:00", "schemaVersion": 2}


def test_no_schedule_is_200_with_an_empty_object(api):
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == {}


def test_set_get_delete(api, superuser, settings):
    settings.TIME_ZONE = "Europe/Paris"
    response = api.put(URL, {**BODY, "fromDate": "2026-01-01T00:00:00+01:00"}, format="json")
    assert response.status_code == 202
    assert response.content == b""
    body = api.get(f"{ALIAS}config/schedule").json()
    assert body["days"] == ["mon", "sat"]
    assert body["repeatIntervalInWeeks"] == 2
    assert body["time"] == "02:30:00"
    assert body["schemaVersion"] == 2
    assert body["fromDate"] == "2025-12-31T23:00:00Z"
    next_run = datetime.fromisoformat(body["nextRunTime"])
    assert body["nextRunTime"].endswith("Z") and body["firstRunTime"].endswith("Z")
    assert next_run.astimezone(ZoneInfo("Europe/Paris")).strftime("%a %H:%M:%S") in {"Mon 02:30:00", "Sat 02:30:00"}
    assert body["timeZone"] == "Europe/Paris"
    assert body["enabled"] is True
    assert Schedule.objects.filter(repeats=1).count() == 1  # the django-q2 trigger is armed
    assert AuditEntry.objects.get(action="schedule.set").user == superuser

    deleted = api.delete(URL)
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert ExportSchedule.objects.count() == 0
    assert api.get(URL).json() == {}
    assert AuditEntry.objects.get(action="schedule.delete").via == "api"


@pytest.mark.parametrize(
    ("days", "answered"),
    [
        (["MONDAY", "THURSDAY"], ["mon", "thu"]),
        (["Sunday", "sat", "SAT", "mOn"], ["mon", "sat", "sun"]),
        (["tue", "wednesday", "FRI"], ["tue", "wed", "fri"]),
    ],
)
def test_days_accept_both_spellings_in_any_case_and_answer_three_letters(api, days, answered):
    assert api.put(URL, {**BODY, "days": days}, format="json").status_code == 202
    assert api.get(URL).json()["days"] == answered
    assert ExportSchedule.objects.get().days == answered


@pytest.mark.parametrize(
    ("given", "answered"), [("02:30", "02:30:00"), ("23:59:59", "23:59:59"), ("00:00", "00:00:00")]
)
def test_time_accepts_hh_mm_and_hh_mm_ss_and_answers_hh_mm_ss(api, given, answered):
    assert api.put(URL, {**BODY, "time": given}, format="json").status_code == 202
    assert api.get(URL).json()["time"] == answered


def test_a_bad_day_is_named_with_what_is_accepted(api):
    body = assert_error(
        api.put(URL, {**BODY, "days": ["MONDAY", "Funday", "thurs"]}, format="json"), 400, "schedule.days.invalid"
    )
    assert body["errors"] == [
        {
            "key": "schedule.days.invalid",
            "message": "days: 'Funday', 'thurs' are not weekdays; accepted: mon, tue, wed, thu, fri, sat, sun "
            "or the full names (MONDAY …), in any case.",
        }
    ]


def test_rolling_window_default_and_disabled(api):
    assert api.put(URL, {**BODY, "enabled": False}, format="json").status_code == 202
    body = api.get(URL).json()
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
        ({"time": "25:00:00"}, "schedule.time.invalid", "HH:mm or HH:mm:ss"),
        ({"time": "2:30"}, "schedule.time.invalid", "HH:mm or HH:mm:ss"),
        ({"time": " 02:30"}, "schedule.time.invalid", "HH:mm or HH:mm:ss"),
        ({"days": [" mon"]}, "schedule.days.invalid", "' mon' is not a weekday"),
        ({"repeatIntervalInWeeks": "2"}, "request.invalid", "repeatIntervalInWeeks: A valid integer is required."),
        ({"enabled": 1}, "request.invalid", "enabled: Must be a valid boolean."),
        ({"time": 230}, "request.invalid", "time: Not a valid string."),
        ({"fromDate": "2026-01-01T00:00:00"}, "export.from.date.invalid", "no time-zone offset"),
        ({"schemaVersion": 9}, "export.schema.version.missing", "not supported"),
        ({"days": "mon"}, "request.invalid", "days: Expected a list of items"),
        ({"days": ["mon"] * 8}, "request.invalid", "days: Ensure this field has no more than 7 elements."),
        ({"repeatIntervalInWeeks": "often"}, "request.invalid", "repeatIntervalInWeeks: A valid integer is required."),
        ({"startDay": "mon"}, "request.invalid", "startDay: Unknown field 'startDay'"),
    ],
)
def test_bad_schedules_are_400(api, change, key, contains):
    assert_error(api.put(URL, {**BODY, **change}, format="json"), 400, key, contains=contains)
    assert ExportSchedule.objects.count() == 0
    assert (
        AuditEntry.objects.exclude(action="token.create").get().outcome == "refused"
    )  # the fixture's token is audited too


def test_missing_fields_are_400(api):
    body = assert_error(
        api.put(URL, {}, format="json"), 400, "request.invalid", contains="days: This field is required."
    )
    assert {e["message"].split(":")[0] for e in body["errors"]} == {"days", "repeatIntervalInWeeks", "time"}
