"""Show, set or remove the export schedule (days, every N weeks, time, window); a thin shell over the services."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import KEY_FROM_DATE_INVALID, KEY_SCHEMA_MISSING, PipelineError
from datapipeline.isotime import iso_utc
from exports import schedules
from exports.inputs import (
    KEY_DAYS_INVALID,
    KEY_FORMAT_INVALID,
    KEY_MODE_INVALID,
    KEY_REPEAT_INVALID,
    KEY_TIME_INVALID,
    KEY_WINDOW_INVALID,
    whole_number_or_text,
)
from exports.models import Trigger

# Which option a service error key belongs to, so the message names what the user typed.
OPTION_FOR_KEY = {
    KEY_DAYS_INVALID: "--days",
    KEY_REPEAT_INVALID: "--every-weeks",
    KEY_TIME_INVALID: "--time",
    KEY_FROM_DATE_INVALID: "--from-date",
    KEY_WINDOW_INVALID: "--from-date/--rolling-days/--rolling-months",
    KEY_SCHEMA_MISSING: "--schema-version",
    KEY_FORMAT_INVALID: "--format",
    KEY_MODE_INVALID: "--mode",
}


class Command(BaseCommand):
    help = (
        "Show, set or remove the export schedule. Times are wall-clock times in the server time zone "
        "(TIME_ZONE). 'set' changes only the options given when a schedule exists (a new schedule needs "
        "--days and --time) and enables it unless --disabled; 'show' prints it with its next run time; "
        "'sync' re-arms the task cluster's trigger (after changing TIME_ZONE)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["show", "set", "remove", "sync"], nargs="?", default="show")
        parser.add_argument(
            "--days", help="Comma-separated weekdays: mon,tue,wed,thu,fri,sat,sun or the full names (monday), any case."
        )
        parser.add_argument("--every-weeks", help="Run every N weeks (1-52), counted from the first run.")
        parser.add_argument("--time", help="Time of day, HH:MM or HH:MM:SS (24-hour), in the server time zone.")
        window = parser.add_mutually_exclusive_group()
        window.add_argument("--from-date", help="Absolute start of the data, ISO 8601 with an offset.")
        window.add_argument("--rolling-days", help="Export the last D days, computed at each run.")
        window.add_argument("--rolling-months", help="Export the last M months, computed at each run (default 12).")
        parser.add_argument("--schema-version", help="Schema version to export (default: the current one).")
        parser.add_argument("--format", dest="file_format", help="The files' format: csv (the default) or parquet.")
        parser.add_argument(
            "--mode", help="FULL (the default) or INCREMENTAL: only what changed since the last export, any case."
        )
        parser.add_argument("--disabled", action="store_true", help="Save the schedule switched off.")
        parser.add_argument("--json", action="store_true", help="Print the schedule as the REST API's JSON body.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "set":
            self._set(options)
        elif action == "remove":
            existed = schedules.schedule_get() is not None
            schedules.schedule_delete(via=Trigger.COMMAND)
            self.stdout.write("Export schedule removed." if existed else "There was no export schedule.")
            return
        elif action == "sync":
            schedules.schedule_arm(schedules.schedule_get())
        self._show(json_output=options["json"])

    def _set(self, options: dict[str, Any]) -> None:
        current = schedules.schedule_get()
        kwargs: dict[str, Any] = {}
        if current is not None:
            kwargs = {
                "days": list(current.days),
                "repeat_interval_weeks": current.repeat_interval_weeks,
                "time": current.time,
                "from_date": current.from_date,
                "rolling_window_days": current.rolling_window_days,
                "rolling_window_months": current.rolling_window_months,
                "schema_version": current.schema_version,
                "file_format": current.file_format,
                "mode": current.mode,
            }
        elif options["days"] is None or options["time"] is None:
            raise CommandError("There is no export schedule yet: give at least --days and --time.")
        if options["days"] is not None:
            kwargs["days"] = [day.strip() for day in options["days"].split(",") if day.strip()]
        if options["every_weeks"] is not None:
            kwargs["repeat_interval_weeks"] = whole_number_or_text(options["every_weeks"])
        kwargs.setdefault("repeat_interval_weeks", 1)
        if options["time"] is not None:
            kwargs["time"] = options["time"]
        if any(options[name] is not None for name in ("from_date", "rolling_days", "rolling_months")):
            kwargs["from_date"] = options["from_date"]
            kwargs["rolling_window_days"] = whole_number_or_text(options["rolling_days"])
            kwargs["rolling_window_months"] = whole_number_or_text(options["rolling_months"])
        if options["schema_version"] is not None:
            kwargs["schema_version"] = whole_number_or_text(options["schema_version"])
        for name in ("file_format", "mode"):
            if options[name] is not None:
                kwargs[name] = options[name]
        try:
            schedules.schedule_set(**kwargs, enabled=not options["disabled"], via=Trigger.COMMAND)
        except PipelineError as exc:
            lines = [f"  {OPTION_FOR_KEY.get(item['key'], item['key'])}: {item['message']}" for item in exc.errors]
            raise CommandError("Schedule not saved:\n" + "\n".join(lines)) from None

    def _show(self, *, json_output: bool) -> None:
        schedule = schedules.schedule_get()
        if schedule is None:
            self.stdout.write(json.dumps(None) if json_output else "No export schedule.")
            return
        body = schedules.schedule_to_dict(schedule)
        if json_output:
            self.stdout.write(json.dumps(body, indent=2))
            return
        if body["fromDate"]:
            window = f"data from {body['fromDate']}"
        elif body["rollingWindowDays"]:
            window = f"the last {body['rollingWindowDays']} days before each run"
        else:
            window = f"the last {body['rollingWindowMonths']} months before each run"
        every = "every week" if body["repeatIntervalInWeeks"] == 1 else f"every {body['repeatIntervalInWeeks']} weeks"
        lines = [
            f"Export schedule: {'enabled' if body['enabled'] else 'DISABLED'}",
            f"  Days:           {', '.join(body['days'])} ({every}, counted from {body['firstRunTime']})",
            f"  Time:           {body['time']} ({settings.TIME_ZONE})",
            f"  Data window:    {window}",
            f"  Schema version: {body['schemaVersion']}",
            f"  nextRunTime:    {body['nextRunTime'] or 'none (disabled)'}",
        ]
        if body["timeZoneWhenSaved"] != body["timeZone"]:
            lines.append(
                f"  Note: saved while TIME_ZONE was {body['timeZoneWhenSaved']}; the time stays {body['time']}, "
                f"now read in {body['timeZone']}. Re-enter the time if you meant the old zone's time."
            )
        armed = schedules.schedule_armed_run()
        expected = schedules.schedule_next_run(schedule)
        if armed != expected:
            lines.append(
                f"  Warning: the task cluster's trigger is armed for {iso_utc(armed) or 'nothing'}; "
                "run 'manage.py export_schedule sync' to re-arm it."
            )
        self.stdout.write("\n".join(lines))
