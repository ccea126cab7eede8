"""manage.py export_schedule show|set|remove|sync."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule
from schedule_clock import frozen, local

from exports.models import AuditEntry, ExportSchedule
from exports.schedules import SCHEDULE_NAME

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
NOW = local(BERLIN, 2026, 6, 4, 15, 0)  # Thursday


@pytest.fixture(autouse=True)
def berlin(zone):
    zone(BERLIN)


def run(*args: str) -> str:
    out = StringIO()
    with frozen(NOW):
        call_command("export_schedule", *args, stdout=out)
    return out.getvalue()


def test_set_then_show_prints_the_schedule_and_next_run_time():
    run("set", "--days", "mon,sat", "--every-weeks", "2", "--time", "02:00:00", "--rolling-days", "90")
    shown = run("show")
    assert "Export schedule: enabled" in shown
    assert "mon, sat (every 2 weeks" in shown
    assert "02:00:00 (Europe/Berlin)" in shown
    assert "the last 90 days before each run" in shown
    assert "nextRunTime:    2026-06-06T00:00:00Z" in shown  # 02:00 in Berlin
    assert "Warning" not in shown
    assert AuditEntry.objects.get(action="schedule.set").via == "command"


def test_show_json_is_the_rest_body():
    run("set", "--days", "sat", "--time", "02:00:00", "--from-date", "2026-01-01T00:00:00Z", "--schema-version", "1")
    body = json.loads(run("show", "--json"))
    assert body["days"] == ["sat"]
    assert body["fromDate"] == "2026-01-01T00:00:00Z"
    assert body["schemaVersion"] == 1
    assert body["nextRunTime"] == "2026-06-06T00:00:00Z"


def test_set_changes_only_the_options_given():
    run("set", "--days", "sat", "--time", "02:00:00", "--every-weeks", "3", "--rolling-months", "6")
    run("set", "--time", "04:30:00")
    stored = ExportSchedule.objects.get()
    assert stored.days == ["sat"]
    assert stored.repeat_interval_weeks == 3
    assert stored.rolling_window_months == 6
    assert stored.time.isoformat() == "04:30:00"
    run("set", "--disabled")
    assert "DISABLED" in run("show")
    assert "nextRunTime:    none (disabled)" in run("show")
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()


def test_remove():
    run("set", "--days", "sat", "--time", "02:00:00")
    assert run("remove") == "Export schedule removed.\n"
    assert not ExportSchedule.objects.exists()
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()
    assert run("show") == "No export schedule.\n"
    assert run("remove") == "There was no export schedule.\n"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--days", "mon,funday", "--time", "02:00:00"], "--days: days: 'funday' is not a weekday"),
        (["--days", ",", "--time", "02:00:00"], "--days: days: select at least one weekday"),
        (["--days", "mon", "--time", "2am"], "--time: time must be HH:mm or HH:mm:ss"),
        (["--days", "mon", "--time", "02:00:00", "--every-weeks", "53"], "--every-weeks: repeatIntervalInWeeks"),
        (["--days", "mon", "--time", "02:00:00", "--every-weeks", "two"], "--every-weeks: repeatIntervalInWeeks"),
        (["--days", "mon", "--time", "02:00:00", "--from-date", "2099-01-01T00:00:00Z"], "--from-date: fromDate"),
        (["--days", "mon", "--time", "02:00:00", "--schema-version", "7"], "--schema-version: Schema version 7"),
        (["--days", "mon", "--time", "02:00:00", "--rolling-days", "-3"], "rollingWindowDays"),
        (["--days", "mon"], "give at least --days and --time"),
    ],
)
def test_bad_options_are_refused_naming_the_option(args, named):
    with pytest.raises(CommandError) as raised:
        run("set", *args)
    assert named in str(raised.value)
    assert not ExportSchedule.objects.exists()


def test_show_warns_when_the_trigger_is_not_armed_and_sync_re_arms_it():
    run("set", "--days", "sat", "--time", "02:00:00")
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    assert "the task cluster's trigger is armed for nothing" in run("show")
    shown = run("sync")
    assert "Warning" not in shown
    assert Schedule.objects.get(name=SCHEDULE_NAME).next_run == local(BERLIN, 2026, 6, 6, 2, 0)


def test_show_notes_a_time_zone_change(zone):
    run("set", "--days", "sat", "--time", "02:00:00")
    zone("America/New_York")
    shown = run("show")
    assert "saved while TIME_ZONE was Europe/Berlin; the time stays 02:00:00, now read in America/New_York" in shown
    assert "nextRunTime:    2026-06-06T06:00:00Z" in shown  # 02:00 in New York
    assert "Warning: the task cluster's trigger is armed for 2026-06-06T00:00:00Z" in shown


def test_readmes_example_with_hh_mm_and_full_day_names_works():
    run("set", "--days", "MONDAY,thu,Saturday", "--time", "02:30")
    schedule = ExportSchedule.objects.get()
    assert schedule.days == ["mon", "thu", "sat"]
    assert schedule.time.isoformat() == "02:30:00"
    shown = run("show")
    assert "Days:           mon, thu, sat (every week" in shown
    assert "Time:           02:30:00 (Europe/Berlin)" in shown
    body = json.loads(run("show", "--json"))
    assert (body["days"], body["time"]) == (["mon", "thu", "sat"], "02:30:00")


def test_a_bad_day_names_the_value_and_what_is_accepted():
    with pytest.raises(CommandError) as caught:
        run("set", "--days", "mon,Funday", "--time", "02:30")
    assert str(caught.value) == (
        "Schedule not saved:\n  --days: days: 'Funday' is not a weekday; accepted: mon, tue, wed, thu, fri, sat, "
        "sun or the full names (MONDAY …), in any case."
    )
    assert ExportSchedule.objects.count() == 0
