"""The one way the API, the admin's JSON and the commands write an instant: ISO 8601 in UTC with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime | None, *, timespec: str = "seconds") -> str | None:
    """``2026-01-31T00:00:00Z`` (``timespec`` as ``datetime.isoformat``); None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
