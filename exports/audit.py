"""The audit log's writes: every row size-capped; anonymous refusals at most one row per address per minute.

Anonymous refused requests are kept as one counting row per client address per minute (with
the first request's path and reason) rather than a row each: the operator still sees who
probed the API, how often and where, but anonymous traffic cannot grow the database.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import AuditEntry

MAX_TEXT = 500  # characters kept of any string in a row's details
MAX_ITEMS = 50  # items kept of any list or mapping in a row's details
MAX_DETAILS = 4096  # characters of the details' JSON text
ANONYMOUS_WINDOW = timedelta(minutes=1)


def _cap(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict) and depth < 3:
        items = list(value.items())
        capped = {_cap(str(k)): _cap(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            capped["…"] = f"{len(items) - MAX_ITEMS} more"
        return capped
    if isinstance(value, list | tuple | set | frozenset) and depth < 3:
        items = list(value)
        capped = [_cap(v, depth + 1) for v in items[:MAX_ITEMS]]
        return [*capped, f"… {len(items) - MAX_ITEMS} more"] if len(items) > MAX_ITEMS else capped
    text = str(value)
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}… ({len(text)} characters)"


def capped_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with every string, list and mapping cut to size, and the whole under ``MAX_DETAILS``."""
    capped = _cap(details)
    text = json.dumps(capped, ensure_ascii=False, default=str)
    keep = MAX_DETAILS
    while len(json.dumps(capped, ensure_ascii=False, default=str)) > MAX_DETAILS:
        keep //= 2  # the preview's own quoting can make it longer than the text it holds
        capped = {"truncated": True, "characters": len(text), "preview": text[:keep]}
    return capped


def _field(value: str, name: str) -> str:
    return value[: AuditEntry._meta.get_field(name).max_length]


def audit_record(*, action: str, user: Any = None, via: str = "", outcome: str = "ok", **details: Any) -> None:
    AuditEntry.objects.create(
        action=_field(action, "action"),
        user=user if getattr(user, "pk", None) else None,
        via=_field(via, "via"),
        outcome=_field(outcome, "outcome"),
        details=capped_details(details),
    )


@transaction.atomic
def audit_refused_anonymous(*, action: str, address: str, **details: Any) -> None:
    """Count an anonymous refused request in its address's row of the last minute, or start that row."""
    now = timezone.now()
    address = address[:64]
    row = (
        AuditEntry.objects.select_for_update()
        .filter(user=None, outcome="refused", via="api", created__gte=now - ANONYMOUS_WINDOW)
        .filter(details__anonymous=True, details__address=address)
        .order_by("-created")
        .first()
    )
    if row is None:
        audit_record(action=action, via="api", outcome="refused", anonymous=True, address=address, attempts=1,
                     lastAt=now.isoformat(), **details)  # fmt: skip
        return
    row.details = {**row.details, "attempts": int(row.details.get("attempts", 1)) + 1, "lastAt": now.isoformat()}
    row.save(update_fields=["details"])
