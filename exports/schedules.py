"""The one export schedule (SPEC §7): validation, next-run computation, the django-q2 trigger.

Rules
- Times are wall-clock times in ``settings.TIME_ZONE``. The stored time stays as entered when
  TIME_ZONE changes (as the anchor documents): 02:00 then means 02:00 in the new zone.
- The first run is the nearest selected weekday after saving, at the chosen time (today if that
  time has not passed yet). "Every N weeks" counts 7-day periods from the first run's date:
  a selected day is due when ``(day - first_run_day).days // 7`` is a multiple of N.
- Daylight saving: each run is the chosen wall-clock time on its day. A time that falls in the
  hour skipped by spring-forward runs at the same instant the clock would have shown without
  the jump, i.e. 02:30 becomes 03:30 (the first valid wall-clock time after it, +1 h). A time
  in the hour repeated by fall-back runs once, at its first occurrence (fold=0).

Why a ONCE schedule rather than django-q2's CRON type: a cron expression cannot express
"every N weeks counted from the first run", and django-q2 computes cron runs with croniter
(not installed here) from ``Conf.TIME_ZONE`` read at import time. Instead this module computes
the next run itself and arms one django-q2 ``Schedule`` (fixed name ``SCHEDULE_NAME``,
type ONCE, repeats=1) with ``next_run`` = that instant. When it fires, django-q2 sets repeats
to 0 (the row stays, inert) and queues ``run_scheduled_export``, which re-arms the schedule
for the following run before starting the export. A cluster that was down fires the one
overdue run when it comes back, never a backlog (as django-q2's catch_up=False would).
"""

from __future__ import annotations

import calendar
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datapipeline.errors import (
    KEY_ALREADY_RUNNING,
    KEY_FROM_DATE_INVALID,
    KEY_SCHEMA_MISSING,
    ExportAlreadyRunning,
    InvalidParameter,
    PipelineError,
    entry,
)

from .models import ExportSchedule, Trigger
from .services import audit_record, export_record_refused, export_start, parse_from_date, parse_schema_version

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "datapipeline-export-schedule"
TASK_FUNC = "exports.schedules.run_scheduled_export"
INTENDED_KWARG = "scheduled_for"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MIN_WEEKS, MAX_WEEKS = 1, 52
MAX_ROLLING_DAYS = 3650
MAX_ROLLING_MONTHS = 120
DEFAULT_ROLLING_MONTHS = 12  # "usually 12 months or less" (anchor)
# A run queued without its intended time (called by hand) counts as due this long after a slot.
MANUAL_GRACE = timedelta(minutes=5)

KEY_DAYS_INVALID = "schedule.days.invalid"
KEY_REPEAT_INVALID = "schedule.repeat.interval.invalid"
KEY_TIME_INVALID = "schedule.time.invalid"
KEY_WINDOW_INVALID = "schedule.rolling.window.invalid"
KEY_ENABLED_INVALID = "schedule.enabled.invalid"
KEY_NOT_DUE = "schedule.run.not.due"

_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")


# --- time zone helpers -------------------------------------------------------------------------


def server_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``day`` in ``zone`` as a real instant, in UTC (see the module docstring for DST gaps/folds).

    Everything here compares and adds in UTC: Python compares two datetimes sharing one tzinfo
    by their wall-clock fields, ignoring fold, which is wrong in the repeated hour.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, microsecond=0))
    # fold=0: the first occurrence of a repeated time; in a gap, the offset before the jump,
    # which normalises (via UTC) to the wall-clock time one hour later.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


# --- reading -----------------------------------------------------------------------------------


def schedule_get() -> ExportSchedule | None:
    return ExportSchedule.objects.order_by("-updated", "-pk").first()


def _first_run_day(schedule: ExportSchedule) -> date | None:
    if schedule.first_run is None:
        return None
    # The date the user saw when saving, even if TIME_ZONE changed since.
    zone = ZoneInfo(schedule.time_zone) if schedule.time_zone else server_zone()
    return schedule.first_run.astimezone(zone).date()


def schedule_is_due_day(schedule: ExportSchedule, day: date) -> bool:
    """Is ``day`` (a server-local date) one on which the schedule runs?"""
    first = _first_run_day(schedule)
    if first is None or day < first or WEEKDAYS[day.weekday()] not in schedule.days:
        return False
    return ((day - first).days // 7) % max(schedule.repeat_interval_weeks, 1) == 0


def _first_slot_after(days: list[str], at: time, now: datetime, zone: ZoneInfo) -> datetime:
    now = now.astimezone(UTC)
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in days:
            slot = wall_clock(day, at, zone)
            if slot > now:
                return slot.astimezone(zone)
    raise ValueError("no weekday selected")  # unreachable: validation requires at least one day


def schedule_next_run(schedule: ExportSchedule | None, *, now: datetime | None = None) -> datetime | None:
    """The next run strictly after ``now`` (aware, in TIME_ZONE); None when disabled or unsaved."""
    if schedule is None or not schedule.enabled or not schedule.days or schedule.first_run is None:
        return None
    now = (now or timezone.now()).astimezone(UTC)
    zone = server_zone()
    first = _first_run_day(schedule)
    day = max(now.astimezone(zone).date() - timedelta(days=1), first)
    # One whole period of N weeks plus a week always contains a due day after ``now``.
    for _ in range((schedule.repeat_interval_weeks + 1) * 7 + 2):
        if schedule_is_due_day(schedule, day):
            slot = wall_clock(day, schedule.time, zone)
            if slot > now:
                return slot.astimezone(zone)
        day += timedelta(days=1)
    return None


def schedule_due_slot(schedule: ExportSchedule, moment: datetime, *, grace: timedelta) -> datetime | None:
    """The due run ``moment`` belongs to (``slot <= moment < slot + grace``), or None."""
    zone = server_zone()
    moment = moment.astimezone(UTC)
    local_day = moment.astimezone(zone).date()
    for day in (local_day, local_day - timedelta(days=1)):
        if schedule_is_due_day(schedule, day):
            slot = wall_clock(day, schedule.time, zone)
            if slot <= moment < slot + grace:
                return slot.astimezone(zone)
    return None


def schedule_window_start(schedule: ExportSchedule, *, now: datetime | None = None) -> datetime:
    """The fromDate of a run at ``now``: the absolute date, or now minus the rolling window, to the minute."""
    if schedule.from_date is not None:
        return schedule.from_date
    now = (now or timezone.now()).astimezone(server_zone())
    if schedule.rolling_window_days:
        start = now - timedelta(days=schedule.rolling_window_days)  # same wall-clock time D days before
    else:
        months = schedule.rolling_window_months or DEFAULT_ROLLING_MONTHS
        total = now.year * 12 + (now.month - 1) - months
        year, month = divmod(total, 12)
        month += 1
        start = now.replace(year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1]))
    return start.astimezone(server_zone()).replace(second=0, microsecond=0)


def iso_local(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(server_zone()).isoformat(timespec="seconds")


def schedule_armed_run() -> datetime | None:
    """When the django-q2 trigger will fire next (None when it is not armed)."""
    from django_q.models import Schedule

    row = Schedule.objects.filter(name=SCHEDULE_NAME).exclude(repeats=0).first()
    return None if row is None or row.next_run is None else row.next_run.astimezone(server_zone())


def schedule_to_dict(schedule: ExportSchedule, *, now: datetime | None = None) -> dict[str, Any]:
    """The compatible REST body (days, repeatIntervalInWeeks, time, fromDate, schemaVersion,
    nextRunTime) plus extras: enabled, the rolling window, the first run and the time zones."""
    return {
        "days": list(schedule.days),
        "repeatIntervalInWeeks": schedule.repeat_interval_weeks,
        "time": schedule.time.strftime("%H:%M:%S"),
        "fromDate": iso_local(schedule.from_date),
        "schemaVersion": schedule.schema_version,
        "nextRunTime": iso_local(schedule_next_run(schedule, now=now)),
        "enabled": schedule.enabled,
        "rollingWindowDays": schedule.rolling_window_days,
        "rollingWindowMonths": schedule.rolling_window_months,
        "firstRunTime": iso_local(schedule.first_run),
        "timeZone": settings.TIME_ZONE,
        "timeZoneWhenSaved": schedule.time_zone or settings.TIME_ZONE,
    }


# --- validation --------------------------------------------------------------------------------


def _clean_days(value: object, problems: list[dict[str, str]]) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(d, str) for d in value):
        problems.append(
            entry(KEY_DAYS_INVALID, f'days must be a list of weekday names such as ["mon", "sat"], not {value!r}.')
        )
        return []
    unknown = [d for d in value if d.strip().lower() not in WEEKDAYS]
    if unknown:
        problems.append(
            entry(
                KEY_DAYS_INVALID,
                f"days: {', '.join(repr(d) for d in unknown)} is not a weekday; use {', '.join(WEEKDAYS)}.",
            )
        )
        return []
    chosen = {d.strip().lower() for d in value}
    if not chosen:
        problems.append(entry(KEY_DAYS_INVALID, "days: select at least one weekday (mon … sun)."))
    return [d for d in WEEKDAYS if d in chosen]


def _clean_weeks(value: object, problems: list[dict[str, str]]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_WEEKS <= value <= MAX_WEEKS:
        problems.append(
            entry(
                KEY_REPEAT_INVALID,
                f"repeatIntervalInWeeks must be a whole number from {MIN_WEEKS} to {MAX_WEEKS}, not {value!r}.",
            )
        )
        return MIN_WEEKS
    return value


def _clean_time(value: object, problems: list[dict[str, str]]) -> time:
    if isinstance(value, time):
        if value.tzinfo is None:
            return value.replace(microsecond=0)
    elif isinstance(value, str) and _TIME_RE.match(value.strip()):
        hour, minute, second = (int(part) for part in value.strip().split(":"))
        return time(hour, minute, second)
    problems.append(
        entry(
            KEY_TIME_INVALID,
            f"time must be HH:mm:ss in the server time zone ({settings.TIME_ZONE}), such as 02:00:00; got {value!r}.",
        )
    )
    return time(0)


def _clean_window(
    from_date: object,
    rolling_days: object,
    rolling_months: object,
    now: datetime,
    problems: list[dict[str, str]],
) -> tuple[datetime | None, int | None, int | None]:
    given = [from_date is not None and from_date != "", rolling_days is not None, rolling_months is not None]
    if sum(given) > 1:
        problems.append(
            entry(
                KEY_WINDOW_INVALID,
                "Give either fromDate (an absolute date) or one rolling window (rollingWindowDays or "
                "rollingWindowMonths), not several.",
            )
        )
        return None, None, None
    if given[0]:
        if not isinstance(from_date, str | datetime):
            problems.append(
                entry(KEY_FROM_DATE_INVALID, f"fromDate must be an ISO 8601 date-time string, not {from_date!r}.")
            )
            return None, None, None
        try:
            return parse_from_date(from_date, now=now), None, None
        except InvalidParameter as exc:
            problems.extend(exc.errors)
            return None, None, None
    for name, value, limit in (
        ("rollingWindowDays", rolling_days, MAX_ROLLING_DAYS),
        ("rollingWindowMonths", rolling_months, MAX_ROLLING_MONTHS),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit):
            message = f"{name} must be a whole number from 1 to {limit}, not {value!r}."
            problems.append(entry(KEY_WINDOW_INVALID, message))
            return None, None, None
    if rolling_days is None and rolling_months is None:
        rolling_months = DEFAULT_ROLLING_MONTHS
    return None, rolling_days, rolling_months


def _clean_schema(value: object, problems: list[dict[str, str]]) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        problems.append(entry(KEY_SCHEMA_MISSING, f"schemaVersion must be a whole number, not {value!r}."))
        return None
    try:
        return parse_schema_version(value)
    except InvalidParameter as exc:
        problems.extend(exc.errors)
        return None


# --- writing -----------------------------------------------------------------------------------


def schedule_arm(schedule: ExportSchedule | None, *, now: datetime | None = None) -> datetime | None:
    """Point the one django-q2 Schedule at the next run (or remove it when there is none)."""
    from django_q.models import Schedule

    next_run = schedule_next_run(schedule, now=now)
    if next_run is None:
        Schedule.objects.filter(name=SCHEDULE_NAME).delete()
        return None
    defaults = {
        "func": TASK_FUNC,
        "schedule_type": Schedule.ONCE,
        "repeats": 1,
        "next_run": next_run,
        "intended_date_kwarg": INTENDED_KWARG,
        "args": None,
        "kwargs": None,
        "cron": None,
        "cluster": None,
    }
    with transaction.atomic():
        rows = list(Schedule.objects.select_for_update().filter(name=SCHEDULE_NAME).order_by("pk"))
        if rows:
            Schedule.objects.filter(pk__in=[r.pk for r in rows[1:]]).delete()
            Schedule.objects.filter(pk=rows[0].pk).update(**defaults)
        else:
            Schedule.objects.create(name=SCHEDULE_NAME, **defaults)
    return next_run


@transaction.atomic
def schedule_set(
    *,
    days: list[str],
    repeat_interval_weeks: int,
    time: str | time,
    from_date: str | datetime | None = None,
    rolling_window_days: int | None = None,
    rolling_window_months: int | None = None,
    schema_version: int | None = None,
    enabled: bool = True,
    user: Any = None,
    via: str = "",
    now: datetime | None = None,
) -> ExportSchedule:
    """Validate and save the one schedule, compute its first run and arm django-q2.

    Raises InvalidParameter listing every bad field (``errors``); nothing is saved then.
    Without fromDate or a rolling window the window is the last 12 months.
    """
    now = now or timezone.now()
    problems: list[dict[str, str]] = []
    clean_days = _clean_days(days, problems)
    weeks = _clean_weeks(repeat_interval_weeks, problems)
    at = _clean_time(time, problems)
    absolute, rolling_days, rolling_months = _clean_window(
        from_date, rolling_window_days, rolling_window_months, now, problems
    )
    version = _clean_schema(schema_version, problems)
    if not isinstance(enabled, bool):
        problems.append(entry(KEY_ENABLED_INVALID, f"enabled must be true or false, not {enabled!r}."))
    if problems:
        raise InvalidParameter(problems[0]["message"], key=problems[0]["key"], errors=problems)

    schedule = ExportSchedule.objects.select_for_update().order_by("-updated", "-pk").first() or ExportSchedule()
    schedule.enabled = enabled
    schedule.days = clean_days
    schedule.repeat_interval_weeks = weeks
    schedule.time = at
    schedule.from_date = absolute
    schedule.rolling_window_days = rolling_days
    schedule.rolling_window_months = rolling_months
    schedule.schema_version = version
    schedule.time_zone = settings.TIME_ZONE
    schedule.first_run = _first_slot_after(clean_days, at, now, server_zone())
    schedule.save()
    ExportSchedule.objects.exclude(pk=schedule.pk).delete()
    next_run = schedule_arm(schedule, now=now)
    audit_record(
        action="schedule.set",
        user=user,
        via=via,
        enabled=enabled,
        days=clean_days,
        repeatIntervalInWeeks=weeks,
        time=at.strftime("%H:%M:%S"),
        fromDate=iso_local(absolute),
        rollingWindowDays=rolling_days,
        rollingWindowMonths=rolling_months,
        schemaVersion=version,
        nextRunTime=iso_local(next_run),
    )
    return schedule


@transaction.atomic
def schedule_delete(*, user: Any = None, via: str = "") -> None:
    """Remove the schedule and its django-q2 trigger; removing no schedule is not an error."""
    from django_q.models import Schedule

    removed, _ = ExportSchedule.objects.all().delete()
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    audit_record(action="schedule.delete", user=user, via=via, existed=bool(removed))


# --- the task ----------------------------------------------------------------------------------


def run_scheduled_export(scheduled_for: str | None = None) -> str:
    """What django-q2 runs at each armed time: re-arm, then start an export if this run is due.

    ``scheduled_for`` is the armed instant (django-q2's intended_date_kwarg). A run that is not
    due (a skipped week, a schedule edited or disabled since) starts nothing. An export that is
    already running, or a schedule that has become invalid, leaves a FAILED job saying why.
    """
    now = timezone.now()
    schedule = schedule_get()
    if schedule is None or not schedule.enabled:
        schedule_arm(schedule, now=now)
        return "No enabled export schedule: nothing to do."
    if scheduled_for:
        intended = datetime.fromisoformat(scheduled_for)
        slot = schedule_due_slot(schedule, intended, grace=timedelta(seconds=1))
    else:
        intended = now
        slot = schedule_due_slot(schedule, now, grace=MANUAL_GRACE)
    # Re-arm first, so a failing export never stops later runs.
    after = max(now, intended)
    schedule_arm(schedule, now=after)
    if transaction.get_connection().in_atomic_block:
        # Run inline by django-q2's scheduler (Q_CLUSTER sync=True): it saves its own copy of the
        # trigger (repeats=0) after this returns, so arm again once its transaction commits.
        transaction.on_commit(lambda: schedule_arm(schedule_get(), now=after))
    if slot is None:
        return f"Not a due run of the export schedule ({iso_local(intended)}): nothing started."

    version = schedule.schema_version
    window = schedule_window_start(schedule, now=now)
    try:
        job = export_start(from_date=window, schema_version=version, trigger=Trigger.SCHEDULE, user=None)
    except ExportAlreadyRunning as exc:
        job = export_record_refused(
            trigger=Trigger.SCHEDULE,
            from_date=window,
            schema_version=version,
            key=KEY_ALREADY_RUNNING,
            message=(
                f"Scheduled export for {iso_local(slot)} skipped: export {exc.job.pk} was running "
                f"(status {exc.job.status}); only one export can run at a time."
            ),
        )
        return f"Scheduled export skipped: export {exc.job.pk} was running; recorded FAILED job {job.pk}."
    except PipelineError as exc:
        job = export_record_refused(
            trigger=Trigger.SCHEDULE,
            from_date=window,
            schema_version=version,
            key=exc.key,
            message=f"Scheduled export for {iso_local(slot)} refused: {exc.message}",
        )
        return f"Scheduled export refused ({exc.key}); recorded FAILED job {job.pk}."
    return f"Scheduled export for {iso_local(slot)} started: export {job.pk} ({job.status})."
