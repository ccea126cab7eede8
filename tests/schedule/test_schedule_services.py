"""schedule_set / schedule_delete / schedule_to_dict: what is stored, armed, audited and refused."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from django.contrib.auth import get_user_model
from django_q.models import Schedule
from schedule_clock import frozen, local

from datapipeline.errors import InvalidParameter
from datapipeline.schema import DEFAULT_VERSION, VERSIONS
from exports.models import AuditEntry, ExportSchedule
from exports.schedules import (
    SCHEDULE_NAME,
    TASK_FUNC,
    schedule_delete,
    schedule_get,
    schedule_next_run,
    schedule_set,
    schedule_to_dict,
)

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
SAVED = local(BERLIN, 2026, 6, 4, 15, 0)  # a Thursday


@pytest.fixture(autouse=True)
def berlin(zone):
    zone(BERLIN)


def set_at(moment: datetime = SAVED, **kwargs):
    kwargs.setdefault("days", ["sat", "mon"])
    kwargs.setdefault("repeat_interval_weeks", 1)
    kwargs.setdefault("time", "02:00:00")
    with frozen(moment):
        return schedule_set(**kwargs)


def test_set_stores_the_schedule_and_arms_one_trigger_at_the_next_run():
    schedule = set_at(days=["mon", "sat", "MON"], repeat_interval_weeks=2, time="02:00:00", schema_version=1)

    stored = ExportSchedule.objects.get()
    assert stored.pk == schedule.pk
    assert stored.days == ["mon", "sat"]  # week order, duplicates and case folded
    assert stored.repeat_interval_weeks == 2
    assert stored.time == time(2, 0)
    assert stored.schema_version == 1
    assert stored.from_date is None and stored.rolling_window_months == 12  # default: the last 12 months
    assert stored.time_zone == BERLIN

    trigger = Schedule.objects.get(name=SCHEDULE_NAME)
    assert trigger.func == TASK_FUNC
    assert trigger.schedule_type == Schedule.ONCE
    assert trigger.repeats == 1
    assert trigger.intended_date_kwarg == "scheduled_for"
    assert trigger.next_run == local(BERLIN, 2026, 6, 6, 2, 0)
    assert trigger.next_run == schedule_next_run(stored, now=SAVED)


def test_saving_again_updates_the_one_schedule_and_the_one_trigger():
    set_at(days=["sat"])
    set_at(local(BERLIN, 2026, 6, 5, 9, 0), days=["tue"], time="23:00:00", rolling_window_days=30)

    assert ExportSchedule.objects.count() == 1
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1
    stored = schedule_get()
    assert stored.days == ["tue"]
    assert stored.rolling_window_days == 30 and stored.rolling_window_months is None
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == local(BERLIN, 2026, 6, 9, 23, 0)


def test_a_stray_duplicate_trigger_is_folded_into_one():
    Schedule.objects.create(name=SCHEDULE_NAME, func=TASK_FUNC, schedule_type=Schedule.ONCE)
    Schedule.objects.create(name=SCHEDULE_NAME, func=TASK_FUNC, schedule_type=Schedule.ONCE)
    set_at()
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_disabled_schedule_is_kept_but_not_armed():
    set_at()
    set_at(enabled=False)
    assert ExportSchedule.objects.get().enabled is False
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()
    set_at(enabled=True)
    assert Schedule.objects.filter(name=SCHEDULE_NAME, repeats=1).exists()


def test_absolute_from_date_is_kept_with_its_offset():
    set_at(from_date="2026-01-31T00:00:00Z")
    stored = ExportSchedule.objects.get()
    assert stored.from_date == datetime.fromisoformat("2026-01-31T00:00:00+00:00")
    assert stored.rolling_window_days is None and stored.rolling_window_months is None
    assert schedule_to_dict(stored)["fromDate"] == "2026-01-31T00:00:00Z"


def test_to_dict_is_the_compatible_body_with_next_run_time():
    schedule = set_at(days=["sat", "mon"], repeat_interval_weeks=3, time="02:00:00")
    with frozen(SAVED):
        body = schedule_to_dict(schedule)
    assert {k: body[k] for k in ("days", "repeatIntervalInWeeks", "time", "fromDate", "schemaVersion")} == {
        "days": ["mon", "sat"],
        "repeatIntervalInWeeks": 3,
        "time": "02:00:00",
        "fromDate": None,
        "schemaVersion": DEFAULT_VERSION,
    }
    assert body["nextRunTime"] == "2026-06-06T00:00:00Z"  # 02:00 in Berlin
    assert body["enabled"] is True
    assert body["rollingWindowMonths"] == 12


def test_set_and_delete_are_audited_with_the_user():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    set_at(user=user, via="api")
    with frozen(SAVED):
        schedule_delete(user=user, via="admin")
    entries = list(AuditEntry.objects.order_by("pk").values("action", "user", "via", "details"))
    assert [(e["action"], e["user"], e["via"]) for e in entries] == [
        ("schedule.set", user.pk, "api"),
        ("schedule.delete", user.pk, "admin"),
    ]
    assert entries[0]["details"]["nextRunTime"] == "2026-06-06T00:00:00Z"
    assert entries[1]["details"]["existed"] is True


def test_delete_removes_the_schedule_and_the_trigger():
    set_at()
    schedule_delete()
    assert schedule_get() is None
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()
    schedule_delete()  # nothing left: not an error


def test_unrelated_django_q_schedules_are_left_alone():
    other = Schedule.objects.create(name="someone-else", func="math.floor", args="1", schedule_type=Schedule.DAILY)
    set_at()
    schedule_delete()
    assert Schedule.objects.filter(pk=other.pk).exists()


# --- bad input: refused, naming the field, nothing saved ------------------------------------------

BAD_INPUT = [
    ({"days": []}, "schedule.days.invalid", "days"),
    ({"days": ["mon", "funday"]}, "schedule.days.invalid", "'funday'"),
    ({"days": "mon"}, "schedule.days.invalid", "days must be a list"),
    ({"days": [1]}, "schedule.days.invalid", "days must be a list"),
    ({"repeat_interval_weeks": 0}, "schedule.repeat.interval.invalid", "repeatIntervalInWeeks"),
    ({"repeat_interval_weeks": 53}, "schedule.repeat.interval.invalid", "repeatIntervalInWeeks"),
    ({"repeat_interval_weeks": "2"}, "schedule.repeat.interval.invalid", "repeatIntervalInWeeks"),
    ({"repeat_interval_weeks": 1.5}, "schedule.repeat.interval.invalid", "repeatIntervalInWeeks"),
    ({"repeat_interval_weeks": True}, "schedule.repeat.interval.invalid", "repeatIntervalInWeeks"),
    ({"time": "2:00"}, "schedule.time.invalid", "time must be HH:mm or HH:mm:ss"),
    ({"time": "24:00:00"}, "schedule.time.invalid", "time must be HH:mm or HH:mm:ss"),
    ({"time": "02:00:0"}, "schedule.time.invalid", "time must be HH:mm or HH:mm:ss"),
    ({"time": "02:00:00 pm"}, "schedule.time.invalid", "time must be HH:mm or HH:mm:ss"),
    ({"time": 200}, "schedule.time.invalid", "time must be HH:mm or HH:mm:ss"),
    ({"from_date": "2026-07-01T00:00:00Z"}, "export.from.date.invalid", "in the future"),
    ({"from_date": "yesterday"}, "export.from.date.invalid", "fromDate"),
    ({"from_date": "2026-01-01T00:00:00"}, "export.from.date.invalid", "offset"),
    ({"from_date": 20260101}, "export.from.date.invalid", "fromDate"),
    ({"schema_version": 99}, "export.schema.version.missing", "Schema version 99"),
    ({"schema_version": "1"}, "export.schema.version.missing", "schemaVersion"),
    ({"rolling_window_days": 0}, "schedule.rolling.window.invalid", "rollingWindowDays"),
    ({"rolling_window_months": "12"}, "schedule.rolling.window.invalid", "rollingWindowMonths"),
    (
        {"from_date": "2026-01-01T00:00:00Z", "rolling_window_days": 30},
        "schedule.rolling.window.invalid",
        "either fromDate",
    ),
    ({"enabled": "yes"}, "schedule.enabled.invalid", "enabled"),
]


@pytest.mark.parametrize(("change", "key", "named"), BAD_INPUT, ids=[repr(c) for c, _, _ in BAD_INPUT])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(change, key, named):
    with pytest.raises(InvalidParameter) as raised:
        set_at(**change)
    assert raised.value.key == key
    assert raised.value.status_code == 400
    assert named in raised.value.message
    assert raised.value.errors[0] == {"key": key, "message": raised.value.message}
    assert not ExportSchedule.objects.exists()
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()  # the stale-export reaper has its own
    assert not AuditEntry.objects.exists()


def test_bad_input_keeps_the_previous_schedule():
    set_at(days=["sat"])
    with pytest.raises(InvalidParameter):
        set_at(days=["sun"], time="25:00:00")
    assert schedule_get().days == ["sat"]
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == local(BERLIN, 2026, 6, 6, 2, 0)


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(InvalidParameter) as raised:
        set_at(days=["xyz"], repeat_interval_weeks=99, time="noon", schema_version=42)
    assert [e["key"] for e in raised.value.errors] == [
        "schedule.days.invalid",
        "schedule.repeat.interval.invalid",
        "schedule.time.invalid",
        "export.schema.version.missing",
    ]


@pytest.mark.parametrize("version", [v.version for v in VERSIONS])
def test_every_known_schema_version_is_accepted(version):
    assert set_at(schema_version=version).schema_version == version
