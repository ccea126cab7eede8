"""The next-run computation under a controlled clock: first run, every N weeks, DST."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from schedule_clock import frozen, local

from datapipeline.isotime import iso_utc
from exports.models import ExportSchedule
from exports.schedules import WEEKDAYS, schedule_next_run, schedule_set, schedule_to_dict

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
UTC = "UTC"


def save(saved_at: datetime, **kwargs) -> ExportSchedule:
    kwargs.setdefault("repeat_interval_weeks", 1)
    with frozen(saved_at):
        return schedule_set(**kwargs)


def runs(schedule: ExportSchedule, count: int) -> list[datetime]:
    """The next ``count`` runs, as the task sees them: each computed just after the previous one."""
    found = [schedule.first_run]
    while len(found) < count:
        found.append(schedule_next_run(schedule, now=found[-1] + timedelta(seconds=1)))
    return found


def shown(moments: list[datetime]) -> list[str]:
    return [m.isoformat() for m in moments]


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two instants (Python subtracts same-zone datetimes by wall clock)."""
    return end.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))


# --- the first run: nearest selected weekday after saving -------------------------------------

SAVE_DAYS = [date(2026, 6, 1) + timedelta(days=i) for i in range(7)]  # Mon 1 June .. Sun 7 June
SELECTIONS = [["mon"], ["sat", "mon"], ["tue", "thu"], ["sun"], ["wed", "fri", "sun"], list(WEEKDAYS)]


def expected_first_run(saved: datetime, days: list[str], at: time) -> datetime:
    """Oracle: walk forward day by day from the saving day; today counts only if ``at`` is still ahead."""
    for ahead in range(8):
        day = saved.date() + timedelta(days=ahead)
        if WEEKDAYS[day.weekday()] in days and (ahead > 0 or at > saved.time()):
            return datetime.combine(day, at, tzinfo=saved.tzinfo)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("saved_on", SAVE_DAYS, ids=lambda d: d.strftime("%a"))
@pytest.mark.parametrize("days", SELECTIONS, ids=lambda d: "+".join(d))
@pytest.mark.parametrize("at", ["09:00:00", "10:00:00", "10:00:01", "23:59:59"], ids=["passed", "now", "ahead", "late"])
def test_first_run_is_the_nearest_selected_day_after_saving(zone, saved_on, days, at):
    zone(BERLIN)
    saved = local(BERLIN, saved_on.year, saved_on.month, saved_on.day, 10, 0, 0)
    at_time = time.fromisoformat(at)

    schedule = save(saved, days=days, time=at)

    expected = expected_first_run(saved, days, at_time)
    assert schedule.first_run == expected
    assert schedule_next_run(schedule, now=saved) == expected
    with frozen(saved):
        assert schedule_to_dict(schedule)["nextRunTime"] == iso_utc(expected)


def test_atlassians_example_saved_on_thursday_runs_saturday_then_monday(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 4, 15, 0), days=["sat", "mon"], time="02:00:00")
    assert shown(runs(schedule, 4)) == [
        "2026-06-06T02:00:00+02:00",
        "2026-06-08T02:00:00+02:00",
        "2026-06-13T02:00:00+02:00",
        "2026-06-15T02:00:00+02:00",
    ]


def test_a_time_not_yet_passed_today_runs_today(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 4, 1, 59, 59), days=["thu"], time="02:00:00")
    assert schedule.first_run == local(BERLIN, 2026, 6, 4, 2, 0)


def test_a_time_just_passed_today_waits_a_week(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 4, 2, 0, 1), days=["thu"], time="02:00:00")
    assert schedule.first_run == local(BERLIN, 2026, 6, 11, 2, 0)


# --- every N weeks, counted from the first run --------------------------------------------------


@pytest.mark.parametrize(
    ("weeks", "expected"),
    [
        (
            2,
            ["2026-06-06", "2026-06-08", "2026-06-20", "2026-06-22", "2026-07-04", "2026-07-06"],
        ),
        (
            3,
            ["2026-06-06", "2026-06-08", "2026-06-27", "2026-06-29", "2026-07-18", "2026-07-20"],
        ),
    ],
)
def test_every_n_weeks_counts_from_the_first_run(zone, weeks, expected):
    zone(BERLIN)
    # Saved on Thursday: the first period starts on Saturday, not at the start of a week.
    schedule = save(local(BERLIN, 2026, 6, 4, 15, 0), days=["sat", "mon"], time="06:30:00", repeat_interval_weeks=weeks)
    found = runs(schedule, 6)
    assert [m.date().isoformat() for m in found] == expected
    assert {m.time() for m in found} == {time(6, 30)}


def test_every_two_weeks_single_day_saved_mid_week(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 2, 9, 0), days=["mon"], time="01:00:00", repeat_interval_weeks=2)
    assert [m.date().isoformat() for m in runs(schedule, 3)] == ["2026-06-08", "2026-06-22", "2026-07-06"]


def test_every_52_weeks(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 2, 7, 0), days=["tue"], time="08:00:00", repeat_interval_weeks=52)
    assert shown(runs(schedule, 2)) == ["2026-06-02T08:00:00+02:00", "2027-06-01T08:00:00+02:00"]


def test_next_run_later_in_the_cycle_skips_the_off_weeks(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 4, 15, 0), days=["sat", "mon"], time="06:30:00", repeat_interval_weeks=3)
    # Asked in the middle of an off week, the answer is the start of the next on-week.
    assert schedule_next_run(schedule, now=local(BERLIN, 2026, 6, 16, 12, 0)) == local(BERLIN, 2026, 6, 27, 6, 30)


def test_disabled_schedule_has_no_next_run(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 6, 4, 15, 0), days=["sat"], time="06:30:00", enabled=False)
    assert schedule_next_run(schedule, now=local(BERLIN, 2026, 6, 4, 15, 0)) is None
    assert schedule_to_dict(schedule)["nextRunTime"] is None


# --- daylight saving time -----------------------------------------------------------------------


def test_spring_forward_berlin_keeps_wall_clock_time(zone):
    zone(BERLIN)  # 2026-03-29 02:00 CET -> 03:00 CEST
    schedule = save(local(BERLIN, 2026, 3, 26, 12, 0), days=["sat", "sun", "mon"], time="04:15:00")
    found = runs(schedule, 3)
    assert shown(found) == [
        "2026-03-28T04:15:00+01:00",
        "2026-03-29T04:15:00+02:00",
        "2026-03-30T04:15:00+02:00",
    ]
    assert elapsed(found[0], found[1]) == timedelta(hours=23)  # the short day


def test_spring_forward_berlin_time_in_the_skipped_hour_runs_one_hour_later(zone):
    """02:30 does not exist on 29 March: that run happens at 03:30 CEST (= 01:30 UTC), once."""
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 3, 26, 12, 0), days=["sat", "sun", "mon"], time="02:30:00")
    assert shown(runs(schedule, 3)) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_fall_back_berlin_repeated_hour_runs_once_at_the_first_occurrence(zone):
    zone(BERLIN)  # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice
    schedule = save(local(BERLIN, 2026, 10, 22, 12, 0), days=["sat", "sun", "mon"], time="02:30:00")
    found = runs(schedule, 3)
    assert shown(found) == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",  # first occurrence, 00:30 UTC
        "2026-10-26T02:30:00+01:00",  # not again at 02:30 CET on the 25th
    ]
    # Asked between the two 02:30s (02:20 CET, after the run at 02:30 CEST): the next is Monday.
    between = local(BERLIN, 2026, 10, 25, 2, 20, fold=1)
    assert elapsed(found[1], between) == timedelta(minutes=50)
    assert schedule_next_run(schedule, now=between) == found[2]


def test_fall_back_berlin_keeps_wall_clock_time(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 10, 22, 12, 0), days=["sat", "sun"], time="12:00:00")
    found = runs(schedule, 2)
    assert shown(found) == ["2026-10-24T12:00:00+02:00", "2026-10-25T12:00:00+01:00"]
    assert elapsed(found[0], found[1]) == timedelta(hours=25)  # the long day


def test_weekly_run_across_spring_forward_new_york(zone):
    zone(NEW_YORK)  # 2026-03-08 02:00 EST -> 03:00 EDT
    schedule = save(local(NEW_YORK, 2026, 3, 2, 12, 0), days=["sun"], time="09:00:00")
    assert shown(runs(schedule, 3)) == [
        "2026-03-08T09:00:00-04:00",
        "2026-03-15T09:00:00-04:00",
        "2026-03-22T09:00:00-04:00",
    ]
    before = save(local(NEW_YORK, 2026, 2, 27, 12, 0), days=["sun"], time="09:00:00")
    assert shown(runs(before, 2)) == ["2026-03-01T09:00:00-05:00", "2026-03-08T09:00:00-04:00"]


def test_spring_forward_new_york_skipped_hour(zone):
    zone(NEW_YORK)
    schedule = save(local(NEW_YORK, 2026, 3, 5, 12, 0), days=["sat", "sun"], time="02:30:00")
    assert shown(runs(schedule, 3)) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-14T02:30:00-04:00",
    ]


def test_fall_back_new_york_repeated_hour(zone):
    zone(NEW_YORK)  # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice
    schedule = save(local(NEW_YORK, 2026, 10, 29, 12, 0), days=["sun", "mon"], time="01:30:00")
    found = runs(schedule, 2)
    assert shown(found) == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]


def test_every_two_weeks_across_dst_keeps_wall_clock_and_rhythm(zone):
    zone(BERLIN)
    schedule = save(local(BERLIN, 2026, 3, 16, 12, 0), days=["sun"], time="02:30:00", repeat_interval_weeks=2)
    assert shown(runs(schedule, 3)) == [
        "2026-03-22T02:30:00+01:00",
        "2026-04-05T02:30:00+02:00",
        "2026-04-19T02:30:00+02:00",
    ]


# --- a change of TIME_ZONE: the stored time stays as entered -------------------------------------


def test_changing_time_zone_keeps_the_time_as_entered(zone):
    zone(BERLIN)
    saved = local(BERLIN, 2026, 6, 1, 10, 0)
    schedule = save(saved, days=["mon", "wed"], time="02:00:00", repeat_interval_weeks=2)
    assert schedule.first_run == local(BERLIN, 2026, 6, 3, 2, 0)

    zone(NEW_YORK)
    schedule = ExportSchedule.objects.get()
    assert schedule.time == time(2, 0)
    # 02:00 is now read in New York; the every-2-weeks rhythm still counts from Wednesday 3 June.
    following = []
    moment = saved
    for _ in range(4):
        moment = schedule_next_run(schedule, now=moment)
        following.append(moment)
    assert shown(following) == [
        "2026-06-03T02:00:00-04:00",
        "2026-06-08T02:00:00-04:00",
        "2026-06-17T02:00:00-04:00",
        "2026-06-22T02:00:00-04:00",
    ]
    with frozen(saved):
        body = schedule_to_dict(schedule)
    assert body["time"] == "02:00:00"
    assert body["nextRunTime"] == "2026-06-03T06:00:00Z"  # 02:00 in New York
    assert body["timeZone"] == NEW_YORK
    assert body["timeZoneWhenSaved"] == BERLIN


def test_utc_server(zone):
    zone(UTC)
    schedule = save(local(UTC, 2026, 3, 28, 23, 0), days=["sun"], time="02:30:00")
    assert schedule.first_run.isoformat() == "2026-03-29T02:30:00+00:00"
