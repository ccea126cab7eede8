"""What the files must contain, computed from the database independently of datapipeline.formatting.

The column lists below are copied literally from the compatible file format (version 1 as
Atlassian's Data pipeline writes it, then the version-2 additions), not read from the registry,
so a change to the registry that breaks compatibility fails a test.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import User

from wiki.models import AnalyticsEvent, Comment, Content, Space

ENTITY_NAMES = ["users", "spaces", "pages", "comments", "analytics"]

V1_COLUMNS = {
    "users": ["instance_url", "user_id", "user_name", "user_fullname", "user_email"],
    "spaces": [
        "space_key",
        "instance_url",
        "space_url",
        "homepage_url",
        "space_name",
        "space_type",
        "space_status",
        "creator_id",
        "last_modifier_id",
        "created_date",
        "updated_date",
    ],
    "pages": [
        "page_id",
        "instance_url",
        "space_key",
        "page_url",
        "page_type",
        "page_title",
        "page_status",
        "page_content",
        "page_parent_id",
        "labels",
        "page_version",
        "creator_id",
        "last_modifier_id",
        "created_date",
        "updated_date",
        "last_update_description",
    ],
    "comments": [
        "comment_id",
        "instance_url",
        "comment_url",
        "page_id",
        "parent_comment_id",
        "comment_content",
        "creator_id",
        "last_modifier_id",
        "created_date",
        "updated_date",
    ],
    "analytics": [
        "instance_url",
        "event_id",
        "event_name",
        "created_date",
        "event_author_id",
        "event_space_key",
        "event_container_id",
        "event_content_id",
    ],
}
V2_COLUMNS = {
    **V1_COLUMNS,
    "users": [*V1_COLUMNS["users"], "user_status", "created_date", "last_login_date"],
    "comments": [*V1_COLUMNS["comments"], "space_key", "comment_location"],
}
COLUMNS = {1: V1_COLUMNS, 2: V2_COLUMNS}
V1_LIMITS = {("pages", "page_content"): 10_000, ("comments", "comment_content"): 2_000}


def key(user: User | None) -> str | None:
    if user is None:
        return None
    profile = getattr(user, "profile", None)
    return profile.user_key if profile is not None else None


def page_url(page_id: int) -> str:
    return f"{settings.INSTANCE_URL}/pages/viewpage.action?pageId={page_id}"


def db_rows(entity: str, *, from_date: datetime, opted_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rows an export must hold, as Python values (None for NULL), in primary-key order."""
    base = settings.INSTANCE_URL
    if entity == "users":
        return [
            {
                "instance_url": base,
                "user_id": key(u),
                "user_name": u.username,
                "user_fullname": u.profile.full_name if hasattr(u, "profile") else None,
                "user_email": u.email,
                "user_status": "active" if u.is_active else "deactivated",
                "created_date": u.date_joined,
                "last_login_date": u.last_login,
            }
            for u in User.objects.order_by("pk")
        ]
    if entity == "spaces":
        return [
            {
                "space_key": s.key,
                "instance_url": base,
                "space_url": f"{base}/display/{quote(s.key, safe='')}",  # percent-encoded, "ENG" stays "ENG"
                "homepage_url": page_url(s.homepage_id) if s.homepage_id else None,
                "space_name": s.name,
                "space_type": s.space_type,
                "space_status": s.status,
                "creator_id": key(s.creator),
                "last_modifier_id": key(s.last_modifier),
                "created_date": s.created,
                "updated_date": s.updated,
            }
            for s in Space.objects.exclude(key__in=opted_out).order_by("pk")
        ]
    if entity == "pages":
        pages = Content.objects.filter(status="current", updated__gte=from_date).exclude(space__key__in=opted_out)
        return [
            {
                "page_id": p.pk,
                "instance_url": base,
                "space_key": p.space.key,
                "page_url": page_url(p.pk),
                "page_type": p.content_type,
                "page_title": p.title,
                "page_status": p.status,
                "page_content": p.body,
                "page_parent_id": p.parent_id,
                "labels": p.labels,
                "page_version": p.version,
                "creator_id": key(p.creator),
                "last_modifier_id": key(p.last_modifier),
                "created_date": p.created,
                "updated_date": p.updated,
                "last_update_description": p.version_comment,
            }
            for p in pages.order_by("pk")
        ]
    if entity == "comments":
        comments = Comment.objects.filter(updated__gte=from_date).exclude(content__space__key__in=opted_out)
        return [
            {
                "comment_id": c.pk,
                "instance_url": base,
                "comment_url": f"{page_url(c.content_id)}&focusedCommentId={c.pk}#comment-{c.pk}",
                "page_id": c.content_id,
                "parent_comment_id": c.parent_id,
                "comment_content": c.body,
                "creator_id": key(c.creator),
                "last_modifier_id": key(c.last_modifier),
                "created_date": c.created,
                "updated_date": c.updated,
                "space_key": c.content.space.key,
                "comment_location": c.location,
            }
            for c in comments.order_by("pk")
        ]
    if entity == "analytics":
        events = AnalyticsEvent.objects.filter(created__gte=from_date)
        rows = []
        for e in events.order_by("pk"):
            space = Space.objects.filter(pk=e.space_id).first()
            if space is not None and space.key in opted_out:
                continue
            rows.append(
                {
                    "instance_url": base,
                    "event_id": e.pk,
                    "event_name": e.name,
                    "created_date": e.created,
                    "event_author_id": key(e.author),
                    "event_space_key": space.key if space else None,
                    "event_container_id": e.container_id,
                    "event_content_id": e.content_id,
                }
            )
        return rows
    raise ValueError(entity)


@dataclass(frozen=True)
class Expectation:
    """How one export was configured: decides truncation, escaping and the time format."""

    version: int
    preserve: bool = False
    escape: str = "\\n"
    # Spark's CSV parser (univocity) reads a preserved CRLF inside a quoted field as LF (documented).
    crlf_read_as_lf: bool = False


def expected_text(entity: str, column: str, value: str, how: Expectation) -> str:
    limit = V1_LIMITS.get((entity, column)) if how.version == 1 else None
    if limit is not None:
        value = value[:limit]
    if not how.preserve:
        value = value.replace("\r\n", how.escape).replace("\r", how.escape).replace("\n", how.escape)
    elif how.crlf_read_as_lf:
        value = value.replace("\r\n", "\n")
    return value


def to_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def check_time_text(cell: str, value: datetime, how: Expectation) -> None:
    """The exact text of a time: milliseconds, ``Z`` in v2, the server zone's offset in v1."""
    parsed = datetime.fromisoformat(cell)
    assert parsed == to_ms(value), (cell, value)
    assert len(cell.split(".")[1]) in (4, 9), cell  # "123Z" or "123+01:00": exactly 3 fraction digits
    if how.version >= 2:
        assert cell.endswith("Z"), cell
    else:
        local = value.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        assert parsed.utcoffset() == local.utcoffset(), (cell, settings.TIME_ZONE)


def compare(
    entity: str,
    header: list[str],
    rows: list[dict[str, Any]],
    how: Expectation,
    *,
    from_date: datetime,
    opted_out: tuple[str, ...] = (),
    exact_text: bool = True,
) -> None:
    """Assert that ``rows`` (as read back by a reader) hold exactly the database's values.

    Cells may be text (csv, pandas, DuckDB) or typed (Spark with inferSchema): NULL and the
    empty string both read as empty; integers and times are compared by value.
    """
    assert header == COLUMNS[how.version][entity]
    expected = db_rows(entity, from_date=from_date, opted_out=opted_out)
    assert len(rows) == len(expected), (entity, len(rows), len(expected))
    for got, want in zip(rows, expected, strict=True):
        assert list(got) == header
        for column in header:
            cell, value = got[column], want[column]
            where = f"{entity}.{column} of row {want.get(header[0]) if header[0] != 'instance_url' else want}"
            if value is None:
                assert cell in (None, ""), (where, cell)
            elif isinstance(value, datetime):
                if isinstance(cell, datetime):  # Spark: collect() gives naive times in the process's local zone
                    cell_time = cell.astimezone(UTC)
                    assert cell_time == to_ms(value), (where, cell, value)
                elif exact_text:
                    check_time_text(cell, value, how)
                else:
                    assert datetime.fromisoformat(cell) == to_ms(value), (where, cell, value)
            elif value == []:  # an empty collection is an empty cell
                assert cell in (None, ""), (where, cell)
            elif isinstance(value, list):
                assert isinstance(cell, str), (where, cell)
                assert json.loads(cell) == value, (where, cell, value)
                assert "\n" not in cell and "\r" not in cell
            elif isinstance(value, int):
                assert str(cell) == str(value), (where, cell, value)
            else:
                assert (cell if cell is not None else "") == expected_text(entity, column, value, how), where
