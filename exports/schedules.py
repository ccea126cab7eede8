"""The one export schedule: validation, next-run computation, the django-q2 trigger.

Rules
- Times are wall-clock times in ``settings.TIME_ZONE``. The stored time stays as entered when
  TIME_ZONE changes: 02:00 then means 02:00 in the new zone.
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
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datapipeline.errors import (
    KEY_ALREADY_RUNNING,
    ExportAlreadyRunning,
    PipelineError,
)
from datapipeline.isotime import iso_utc

from .audit import audit_record
from .inputs import DEFAULT_ROLLING_MONTHS, WEEKDAYS, format_time, parse_schedule
from .models import ExportSchedule, Trigger
from .services import export_record_refused, export_start

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "datapipeline-export-schedule"
TASK_FUNC = "exports.schedules.run_scheduled_export"
INTENDED_KWARG = "scheduled_for"

# A run queued without its intended time (called by hand) counts as due this long after a slot.
MANUAL_GRACE = timedelta(minutes=5)

KEY_NOT_DUE = "schedule.run.not.due"


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
        "time": format_time(schedule.time),
        "fromDate": iso_utc(schedule.from_date),
        "schemaVersion": schedule.schema_version,
        "mode": schedule.mode,
        "format": schedule.file_format,
        "nextRunTime": iso_utc(schedule_next_run(schedule, now=now)),
        "enabled": schedule.enabled,
        "rollingWindowDays": schedule.rolling_window_days,
        "rollingWindowMonths": schedule.rolling_window_months,
        "firstRunTime": iso_utc(schedule.first_run),
        "timeZone": settings.TIME_ZONE,
        "timeZoneWhenSaved": schedule.time_zone or settings.TIME_ZONE,
    }


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
def schedule_set(*, user: Any = None, via: str = "", now: datetime | None = None, **fields: Any) -> ExportSchedule:
    """Validate and save the one schedule, compute its first run and arm django-q2.

    ``fields`` are those of ``exports.inputs.parse_schedule`` (days, repeat_interval_weeks, time,
    from_date or a rolling window, schema_version, file_format, enabled). Raises InvalidParameter listing every
    bad field (``errors``); nothing is saved then. Without fromDate or a rolling window the window
    is the last 12 months.
    """
    now = now or timezone.now()
    given = parse_schedule(now=now, **fields)
    schedule = ExportSchedule.objects.select_for_update().order_by("-updated", "-pk").first() or ExportSchedule()
    for name, value in asdict(given).items():
        setattr(schedule, name, value)
    schedule.time_zone = settings.TIME_ZONE
    schedule.first_run = _first_slot_after(given.days, given.time, now, server_zone())
    schedule.save()
    ExportSchedule.objects.exclude(pk=schedule.pk).delete()
    schedule_arm(schedule, now=now)
    audit_record(action="schedule.set", user=user, via=via, **schedule_to_dict(schedule, now=now))
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

    version, file_format = schedule.schema_version, schedule.file_format
    window = schedule_window_start(schedule, now=now)
    refused = partial(
        export_record_refused,
        trigger=Trigger.SCHEDULE,
        from_date=window,
        schema_version=version,
        file_format=file_format,
    )
    try:
        job = export_start(
            from_date=window,
            schema_version=version,
            mode=schedule.mode,
            file_format=file_format,
            trigger=Trigger.SCHEDULE,
            user=None,
        )
    except ExportAlreadyRunning as exc:
        job = refused(
            key=KEY_ALREADY_RUNNING,
            message=(
                f"Scheduled export for {iso_local(slot)} skipped: export {exc.job.pk} was running "
                f"(status {exc.job.status}); only one export can run at a time."
            ),
        )
        return f"Scheduled export skipped: export {exc.job.pk} was running; recorded FAILED job {job.pk}."
    except PipelineError as exc:
        job = refused(
            key=exc.key,
            message=f"Scheduled export for {iso_local(slot)} refused: {exc.message}",
        )
        return f"Scheduled export refused ({exc.key}); recorded FAILED job {job.pk}."
    return f"Scheduled export for {iso_local(slot)} started: export {job.pk} ({job.status})."
