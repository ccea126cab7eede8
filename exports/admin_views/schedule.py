"""The Schedule screen: set, show or delete the one export schedule."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from datapipeline.errors import KEY_FROM_DATE_INVALID, KEY_SCHEMA_MISSING
from datapipeline.isotime import iso_utc

from .. import schedules
from ..admin_forms import ScheduleForm
from ..inputs import (
    KEY_DAYS_INVALID,
    KEY_ENABLED_INVALID,
    KEY_FORMAT_INVALID,
    KEY_MODE_INVALID,
    KEY_REPEAT_INVALID,
    KEY_TIME_INVALID,
    KEY_WINDOW_INVALID,
)
from .common import actor, back_to, render, submitted

SECTION = "datapipeline_schedule"
FIRST_RUN_HELP = "The first run is the nearest selected day after saving."
SCHEDULE_FIELDS = {
    KEY_DAYS_INVALID: "days",
    KEY_REPEAT_INVALID: "repeat_interval_weeks",
    KEY_TIME_INVALID: "time",
    KEY_WINDOW_INVALID: "window",
    KEY_FROM_DATE_INVALID: "from_date",
    KEY_SCHEMA_MISSING: "schema_version",
    KEY_FORMAT_INVALID: "file_format",
    KEY_ENABLED_INVALID: "enabled",
    KEY_MODE_INVALID: "mode",
}


def schedule_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    status = 200
    if request.method == "POST" and "delete" in request.POST:
        schedules.schedule_delete(**actor(request))
        messages.success(request, "The export schedule was deleted; exports run only when started.")
        return back_to(SECTION)
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        status = 400
        saved = submitted(
            request,
            form,
            lambda _: schedules.schedule_set(**form.service_arguments(), **actor(request)),
            SCHEDULE_FIELDS,
        )
        if saved is not None:
            next_run = schedules.schedule_next_run(saved)
            when = f" Next run: {timezone.localtime(next_run):%Y-%m-%d %H:%M %Z}." if next_run else ""
            messages.success(request, f"The export schedule was saved.{when}")
            return back_to(SECTION)
    else:
        form = ScheduleForm(initial=schedule_initial(schedules.schedule_get()))
    schedule = schedules.schedule_get()
    zone = timezone.get_current_timezone_name()
    return render(
        request,
        model_admin,
        "schedule.html",
        "Schedule",
        SECTION,
        status=status,
        form=form,
        schedule=schedule,
        schedule_json=json.dumps(schedules.schedule_to_dict(schedule), indent=2) if schedule else None,
        next_run=schedules.schedule_next_run(schedule) if schedule and schedule.enabled else None,
        time_zone=zone,
        form_help=f"Times are in the server time zone ({zone}). {FIRST_RUN_HELP}",
    )


def schedule_initial(schedule: Any) -> dict[str, Any]:
    if schedule is None:
        return {}
    if schedule.from_date:
        window = "absolute"
    elif schedule.rolling_window_days:
        window = "days"
    else:
        window = "months"
    return {
        "enabled": schedule.enabled,
        "days": list(schedule.days),
        "repeat_interval_weeks": str(schedule.repeat_interval_weeks),
        "time": schedule.time.strftime("%H:%M:%S"),
        "window": window,
        "rolling_window_months": str(schedule.rolling_window_months or 12),
        "rolling_window_days": str(schedule.rolling_window_days or 365),
        "from_date": iso_utc(schedule.from_date) or "",
        "schema_version": str(schedule.schema_version or ""),
        "mode": schedule.mode,
        "file_format": schedule.file_format,
    }
