"""Turn database rows into CSV fields for one entity and schema version.

``RowFormatter`` is compiled once per file: it knows which ORM paths to read and, per
column, a small function from the row tuple to the field's text. Values follow the CSV
dialect of SPEC §3: NULL -> empty, lists -> JSON arrays, times -> ISO 8601 to the
millisecond (version 1 in the server's time zone with its offset, later versions in UTC
with ``Z``), embedded line breaks -> the escape string unless preserved.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from .schema import INTEGER, JSON_ARRAY, TIMESTAMP, URL, Column, Entity

URL_FIELD = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Dialect:
    """The configurable parts of the CSV output."""

    preserve_line_breaks: bool = False
    line_break_escape: str = "\\n"


def format_utc(value: datetime | None) -> str | None:
    """``2026-11-24T02:00:00.123Z``: UTC, milliseconds (truncated), ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def make_local_formatter() -> Callable[[datetime | None], str | None]:
    """``2026-11-24T03:00:00.123+01:00``: the server's time zone (``TIME_ZONE``) with its offset."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def format_local(value: datetime | None) -> str | None:
        if value is None:
            return None
        # isoformat writes the offset as +HH:MM (and +HH:MM:SS for historical odd offsets).
        return value.astimezone(zone).isoformat(timespec="milliseconds")

    return format_local


def escape_line_breaks(value: str, escape: str) -> str:
    if "\r" in value:
        value = value.replace("\r\n", escape).replace("\r", escape)
    if "\n" in value:
        value = value.replace("\n", escape)
    return value


def format_json_array(value: Any) -> str | None:
    """A list as compact JSON (``["a","b"]``, non-ASCII kept); a stray scalar becomes a one-item list.

    JSON escapes control characters, so the result never holds a raw line break.
    """
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        value = [value]
    return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))


class RowFormatter:
    """Reads ``sources`` with values_list and maps each row to the version's fields."""

    def __init__(self, entity: Entity, version: int, dialect: Dialect, instance_url: str):
        self.entity = entity
        self.version = version
        self.columns: list[Column] = entity.columns_for(version)
        self.header = [c.name for c in self.columns]
        sources: list[str] = ["pk"]  # first, for keyset paging
        for column in self.columns:
            needed = URL_FIELD.findall(column.url) if column.url is not None else [column.source]
            for source in needed:
                if source and source not in sources:
                    sources.append(source)
        self.sources = sources
        self._fields = [self._compile(c, dialect, instance_url) for c in self.columns]

    def _index(self, source: str) -> int:
        return self.sources.index(source)

    def _compile(self, column: Column, dialect: Dialect, instance_url: str) -> Callable[[Sequence[Any]], Any]:
        escape = None if dialect.preserve_line_breaks else dialect.line_break_escape
        if column.kind == URL:
            if not column.url:
                value = instance_url if escape is None else escape_line_breaks(instance_url, escape)
                return lambda row: value
            names = URL_FIELD.findall(column.url)
            indexes = [self._index(n) for n in names]
            template = instance_url + URL_FIELD.sub(lambda m: "{" + str(names.index(m.group(1))) + "}", column.url)

            def url(row: Sequence[Any]) -> str | None:
                values = [row[i] for i in indexes]
                if any(v is None for v in values):
                    return None
                text = template.format(*values)
                return text if escape is None else escape_line_breaks(text, escape)

            return url
        i = self._index(column.source or "")
        if column.mapping:
            mapping = column.mapping
            return lambda row: mapping.get(row[i])
        if column.kind == TIMESTAMP:
            fmt = format_utc if self.version >= 2 else make_local_formatter()
            return lambda row: fmt(row[i])
        if column.kind == JSON_ARRAY:
            return lambda row: format_json_array(row[i])
        if column.kind == INTEGER:
            return lambda row: row[i]
        # STRING and TEXT: any text may hold line breaks (a full name, a key), so all of it is escaped.
        limit = column.max_length.get(self.version)
        if limit is None and escape is None:
            return lambda row: row[i]

        def text(row: Sequence[Any]) -> str | None:
            value = row[i]
            if value is None:
                return None
            if limit is not None:
                value = value[:limit]
            if escape is not None:
                value = escape_line_breaks(value, escape)
            return value

        return text

    def format(self, row: Sequence[Any]) -> list[Any]:
        return [f(row) for f in self._fields]
