"""The one input layer (services): every interface (REST, admin, commands, schedule) reads values here,
so all of them accept the same values and refuse the others with the same errors (``InvalidParameter``
with a key; token rules raise ``ValueError``).

- fromDate: ISO 8601 with an offset, not in the future, to the minute; default now - 365 days.
- schemaVersion: a supported version number (as int or text); default the current one.
- mode: ``FULL`` (the default) or ``INCREMENTAL``, in any case.
- format: ``csv`` (the default) or ``parquet``, in any case.
- Schedule days: ``mon`` … ``sun`` or the full English names (``MONDAY``), in any case; answered as
  the three-letter lower-case names. Time: ``HH:mm`` or ``HH:mm:ss`` (24-hour); answered ``HH:mm:ss``.
  Weeks 1-52; a window of fromDate, rollingWindowDays (1-3650) or rollingWindowMonths (1-120).
- Opt-out: the type SPACE and non-empty keys (a list, or text separated by commas or spaces).
- Property values: what the property's parser accepts. Export path: ``datapipeline.paths`` rules.
- Token expiry: 1 to 3650 days, or never; a token is expired from its expiry instant on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from datapipeline.errors import (
    KEY_FROM_DATE_INVALID,
    KEY_OPTOUT_NOT_FOUND,
    KEY_OPTOUT_TYPE,
    KEY_SCHEMA_MISSING,
    InvalidParameter,
    entry,
)
from datapipeline.isotime import iso_utc
from datapipeline.paths import validate_export_path
from datapipeline.properties import PROPERTIES
from datapipeline.registry import OptOutScope, scope, scope_types
from datapipeline.schema import DEFAULT_VERSION, VERSIONS, version_info

# --- export start ------------------------------------------------------------------------------

DEFAULT_WINDOW = timedelta(days=365)
KEY_FROM_DATE_TRUNCATED = "export.from.date.truncated"


def parse_from_date(value: str | datetime | None, *, now: datetime | None = None, truncate: bool = True) -> datetime:
    """ISO 8601 with an offset, not in the future, truncated to the minute; default now - 365 days."""
    now = now or timezone.now()
    if value is None or value == "":
        parsed = now - DEFAULT_WINDOW
    elif isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidParameter(
                f"fromDate {value!r} is not an ISO 8601 date-time such as 2026-01-31T00:00:00Z.",
                key=KEY_FROM_DATE_INVALID,
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidParameter(
            f"fromDate {value!r} has no time-zone offset; add Z or an offset such as +01:00.",
            key=KEY_FROM_DATE_INVALID,
        )
    try:
        # The instant in UTC: offsets beyond PostgreSQL's +-15:59 (Python accepts up to +-23:59) never reach it.
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidParameter(
            f"fromDate {value!r} is out of range once converted to UTC.", key=KEY_FROM_DATE_INVALID
        ) from None
    if parsed > now:
        raise InvalidParameter(f"fromDate {value!r} is in the future.", key=KEY_FROM_DATE_INVALID)
    return parsed.replace(second=0, microsecond=0) if truncate else parsed


def from_date_truncation(given: datetime) -> tuple[datetime, list[dict[str, str]]]:
    """``given`` truncated to the minute, and a warning saying so when that changed it."""
    truncated = given.replace(second=0, microsecond=0)
    if truncated == given:
        return truncated, []
    message = (
        f"fromDate {iso_utc(given, timespec='auto')} was truncated to the minute: "
        f"the export starts from {iso_utc(truncated)}."
    )
    return truncated, [entry(KEY_FROM_DATE_TRUNCATED, message)]


def parse_start_from_date(value: str | datetime | None) -> tuple[datetime, list[dict[str, str]]]:
    """An export's fromDate (default now - 365 days) and the warning when seconds were dropped."""
    if value is None or value == "":
        return parse_from_date(None), []
    return from_date_truncation(parse_from_date(value, truncate=False))


KEY_FORMAT_INVALID = "export.format.invalid"
EXPORT_FORMATS = ("csv", "parquet")  # the first is the default
EXPORT_MODES = ("FULL", "INCREMENTAL")  # the first is the default


def parse_export_format(value: object) -> str:
    """An export's file format: ``csv`` (the default) or ``parquet``, in any case."""
    if value is None or value == "":
        return EXPORT_FORMATS[0]
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in EXPORT_FORMATS:
        raise InvalidParameter(
            f"format {value!r} is not supported; supported formats: {', '.join(EXPORT_FORMATS)}.",
            key=KEY_FORMAT_INVALID,
        )
    return text


def parse_schema_version(value: object) -> int:
    if value is None or value == "":
        return DEFAULT_VERSION
    try:
        version = int(str(value).strip())
    except ValueError:
        version = None
    if version is None or version_info(version) is None:
        supported = ", ".join(str(v.version) for v in VERSIONS)
        raise InvalidParameter(
            f"Schema version {value!r} is not supported; supported versions: {supported}.", key=KEY_SCHEMA_MISSING
        )
    return version


MODES = ("FULL", "INCREMENTAL")
KEY_MODE_INVALID = "export.mode.invalid"


def parse_export_mode(value: object) -> str:
    """``FULL`` (also for None or empty) or ``INCREMENTAL``, given in any case."""
    if value is None or value == "":
        return "FULL"
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in MODES:
        raise InvalidParameter(
            f"mode {value!r} is not supported; use FULL (every row, the default) or INCREMENTAL (only what "
            "changed since the last completed export).",
            key=KEY_MODE_INVALID,
        )
    return text


# --- the schedule ------------------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c}]" for c in text)


# Each full name starts with its abbreviation: "mon" + optional "day", "thu" + optional "rsday".
# Written without inline flags so that every OpenAPI tool (ECMA regular expressions) reads it.
_ALTERNATIVES = (f"{_any_case(day)}({_any_case(full[3:])})?" for day, full in zip(WEEKDAYS, FULL_NAMES, strict=True))
DAY_PATTERN = "^(" + "|".join(_ALTERNATIVES) + ")$"
_DAY_RE = re.compile(DAY_PATTERN)

TIME_PATTERN = r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$"
_TIME_RE = re.compile(TIME_PATTERN)

KEY_DAYS_INVALID = "schedule.days.invalid"
KEY_TIME_INVALID = "schedule.time.invalid"
ACCEPTED_DAYS = "mon, tue, wed, thu, fri, sat, sun or the full names (MONDAY …), in any case"


def parse_days(value: object) -> list[str]:
    """The chosen weekdays, Monday first, as ``mon`` … ``sun``; InvalidParameter names every bad value."""
    if not isinstance(value, list | tuple) or not all(isinstance(d, str) for d in value):
        raise InvalidParameter(
            f'days must be a list of weekday names such as ["mon", "sat"], not {value!r}; accepted: {ACCEPTED_DAYS}.',
            key=KEY_DAYS_INVALID,
        )
    unknown = [d for d in value if not _DAY_RE.match(d)]
    if unknown:
        verb = "is not a weekday" if len(unknown) == 1 else "are not weekdays"
        raise InvalidParameter(
            f"days: {', '.join(repr(d) for d in unknown)} {verb}; accepted: {ACCEPTED_DAYS}.",
            key=KEY_DAYS_INVALID,
        )
    chosen = {d[:3].lower() for d in value}
    if not chosen:
        raise InvalidParameter(f"days: select at least one weekday ({ACCEPTED_DAYS}).", key=KEY_DAYS_INVALID)
    return [d for d in WEEKDAYS if d in chosen]


def parse_time(value: object, *, zone_name: str) -> time:
    """``HH:mm`` or ``HH:mm:ss`` (or a naive ``time``) as a time to the second."""
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(microsecond=0)
    # The same pattern the OpenAPI document states, read the same way.
    found = _TIME_RE.match(value) if isinstance(value, str) else None
    if found:
        hour, minute, second = found.group(1), found.group(2), found.group(3)
        return time(int(hour), int(minute), int(second or 0))
    raise InvalidParameter(
        f"time must be HH:mm or HH:mm:ss (24-hour) in the server time zone ({zone_name}), such as 02:00 or "
        f"02:00:00; got {value!r}.",
        key=KEY_TIME_INVALID,
    )


def format_time(value: time) -> str:
    return value.strftime("%H:%M:%S")


MIN_WEEKS, MAX_WEEKS = 1, 52
MAX_ROLLING_DAYS = 3650
MAX_ROLLING_MONTHS = 120
DEFAULT_ROLLING_MONTHS = 12  # a year of data, the usual window
KEY_REPEAT_INVALID = "schedule.repeat.interval.invalid"
KEY_WINDOW_INVALID = "schedule.rolling.window.invalid"
KEY_ENABLED_INVALID = "schedule.enabled.invalid"


def whole_number_or_text(value: str | None) -> int | str | None:
    """Typed text (admin field, command option) as a whole number; other text as typed, for the error."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class ScheduleInput:
    """A schedule's values once every field passed, named as the schedule's model fields."""

    enabled: bool
    days: list[str]
    repeat_interval_weeks: int
    time: time
    from_date: datetime | None
    rolling_window_days: int | None
    rolling_window_months: int | None
    schema_version: int | None
    file_format: str
    mode: str = "FULL"


MIDNIGHT = time(0)


def parse_schedule(
    *,
    days: object,
    repeat_interval_weeks: object,
    time: object,
    from_date: object = None,
    rolling_window_days: object = None,
    rolling_window_months: object = None,
    schema_version: object = None,
    file_format: object = None,
    enabled: object = True,
    mode: object = None,
    now: datetime,
) -> ScheduleInput:
    """Every schedule field at once; InvalidParameter lists every bad field (``errors``), the first as message.

    Without fromDate or a rolling window the window is the last 12 months."""
    problems: list[dict[str, str]] = []
    clean_days = _collect(problems, [], parse_days, days)
    weeks = _collect(problems, MIN_WEEKS, _parse_weeks, repeat_interval_weeks)
    clean_time = _collect(problems, MIDNIGHT, parse_time, time, zone_name=settings.TIME_ZONE)
    window = _collect(
        problems, (None, None, None), _parse_window, from_date, rolling_window_days, rolling_window_months, now
    )
    version = _collect(problems, None, _parse_schedule_version, schema_version)
    clean_mode = _collect(problems, "FULL", parse_export_mode, mode)
    clean_format = _collect(problems, EXPORT_FORMATS[0], parse_export_format, file_format)
    if not isinstance(enabled, bool):
        problems.append(entry(KEY_ENABLED_INVALID, f"enabled must be true or false, not {enabled!r}."))
    if problems:
        raise InvalidParameter(problems[0]["message"], key=problems[0]["key"], errors=problems)
    return ScheduleInput(bool(enabled), clean_days, weeks, clean_time, *window, version, clean_format, clean_mode)


def _collect(problems: list[dict[str, str]], fallback: Any, parse: Any, *args: Any, **kwargs: Any) -> Any:
    """``parse(*args)``, or ``fallback`` with its errors added to ``problems``."""
    try:
        return parse(*args, **kwargs)
    except InvalidParameter as exc:
        problems.extend(exc.errors)
        return fallback


def _parse_weeks(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_WEEKS <= value <= MAX_WEEKS:
        raise InvalidParameter(
            f"repeatIntervalInWeeks must be a whole number from {MIN_WEEKS} to {MAX_WEEKS}, not {value!r}.",
            key=KEY_REPEAT_INVALID,
        )
    return value


def _parse_window(
    from_date: object, rolling_days: object, rolling_months: object, now: datetime
) -> tuple[datetime | None, int | None, int | None]:
    given = [from_date is not None and from_date != "", rolling_days is not None, rolling_months is not None]
    if sum(given) > 1:
        raise InvalidParameter(
            "Give either fromDate (an absolute date) or one rolling window (rollingWindowDays or "
            "rollingWindowMonths), not several.",
            key=KEY_WINDOW_INVALID,
        )
    if given[0]:
        if not isinstance(from_date, str | datetime):
            raise InvalidParameter(
                f"fromDate must be an ISO 8601 date-time string, not {from_date!r}.", key=KEY_FROM_DATE_INVALID
            )
        return parse_from_date(from_date, now=now), None, None
    for name, value, limit in (
        ("rollingWindowDays", rolling_days, MAX_ROLLING_DAYS),
        ("rollingWindowMonths", rolling_months, MAX_ROLLING_MONTHS),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit):
            raise InvalidParameter(
                f"{name} must be a whole number from 1 to {limit}, not {value!r}.", key=KEY_WINDOW_INVALID
            )
    if rolling_days is None and rolling_months is None:
        rolling_months = DEFAULT_ROLLING_MONTHS
    return None, rolling_days, rolling_months  # type: ignore[return-value]


def _parse_schedule_version(value: object) -> int:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidParameter(f"schemaVersion must be a whole number, not {value!r}.", key=KEY_SCHEMA_MISSING)
    return parse_schema_version(value)


# --- opt-out -----------------------------------------------------------------------------------


def parse_optout_type(entity_type: object) -> OptOutScope:
    """The registered opt-out scope named ``entity_type`` (``SPACE`` for the wiki, ``PROJECT``, ...)."""
    found = scope(entity_type) if isinstance(entity_type, str) else None
    if found is None:
        types = scope_types()
        supported = f"the only supported type is {types[0]}" if len(types) == 1 else f"supported: {', '.join(types)}"
        raise InvalidParameter(f"Unsupported opt-out type {entity_type!r}; {supported}.", key=KEY_OPTOUT_TYPE)
    return found


def parse_optout_keys(keys: Iterable[Any] | str) -> list[str]:
    """Space keys without repeats, in their first order (a dict, not a list scan: 10,000 keys stay fast);
    text is split at commas and spaces."""
    if isinstance(keys, str):
        keys = keys.replace(",", " ").split()
    cleaned: dict[str, None] = {}
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise InvalidParameter(f"Space keys must be non-empty strings, got {key!r}.", key=KEY_OPTOUT_NOT_FOUND)
        cleaned[key] = None
    return list(cleaned)


# --- configuration -----------------------------------------------------------------------------


def parse_property_name(name: object) -> str:
    """A known configuration property's name; ValueError names the known ones."""
    if name not in PROPERTIES:
        raise ValueError(f"Unknown property {name!r}; known: {', '.join(PROPERTIES)}.")
    return str(name)


def property_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be stored for property ``name`` (None: it can)."""
    try:
        PROPERTIES[parse_property_name(name)].parse(value)
    except (ValueError, TypeError) as exc:
        if name not in PROPERTIES:
            return str(exc)
        return f"{value!r} is not a valid value for {name}: {exc}"
    return None


def parse_export_path(value: object) -> Path:
    """An absolute, existing, writable directory that is not a symlink (``datapipeline.paths`` says why not)."""
    return validate_export_path(value)


# --- access tokens -----------------------------------------------------------------------------

MAX_TOKEN_DAYS = 3650


def token_expiry(days: object, *, now: datetime | None = None) -> datetime | None:
    """The expiry of a token valid for ``days`` (1 to 3650; None or empty: it never expires)."""
    if days is None or days == "":
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(f"The expiry must be a whole number of days from 1 to {MAX_TOKEN_DAYS}, got {days!r}.")
    return (now or timezone.now()) + timedelta(days=days)


def token_expired(expires_at: datetime | None, now: datetime | None = None) -> bool:
    """A token is expired from its expiry instant on; one without expiry never is."""
    return expires_at is not None and expires_at <= (now or timezone.now())


def check_token_expiry(expires_at: datetime | None) -> None:
    """A new token's expiry must be in the future (or none)."""
    if token_expired(expires_at):
        raise ValueError(f"The expiry {expires_at.isoformat()} is in the past.")  # type: ignore[union-attr]
