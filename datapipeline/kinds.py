"""Column kinds: how a value becomes the text of a CSV field, once in Python and once in SQL, side by side.

Each kind is one class. ``python`` compiles a column into a function from the values_list row to
the field (the standard path); ``sql`` compiles it into a PostgreSQL expression over ``s.c<i>``
giving the same text (the COPY path); the two must agree byte for byte, which
tests/engine/test_kinds_equivalence.py checks per kind. ``label`` and ``description`` feed the
schema reference; ``logical_type`` is the type a typed output (Parquet) gives the column.

A typed target (``Target.typed``, Parquet) compiles each kind's typed form instead, also once in
Python (``typed_python``: the typed value, e.g. a list of strings) and once in SQL (``typed_sql``:
the COPY CSV form ``parquetfile.copy_select_sql`` gives the logical type): exact text, no
truncation, no line-break escaping, an empty text kept as an empty text.

The CSV rules every kind follows: NULL -> empty field, and an empty text is an empty field too
(``NULLIF(..., '')`` in SQL), embedded line breaks -> the dialect's escape unless preserved.
A column with a ``mapping`` (database value -> text) is written through the mapping, whatever its kind.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.core.exceptions import FieldDoesNotExist

if TYPE_CHECKING:
    from django.db.models import Model

    from .registry import Column

Field = Callable[[Sequence[Any]], Any]
Sql = tuple[str, list[Any]]

URL_FIELD = re.compile(r"{(\w+)}")
UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
LOCAL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS'
INTEGER_FIELDS = {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField"}

# A value placed in a URL, as url_part encodes it: UTF-8 bytes, all but A-Z a-z 0-9 _ . - ~ as %XX.
# Plain values (integers, most keys) take the first branch; only the others are split into bytes.
URL_PART_SQL = (
    "CASE WHEN {v} ~ '^[A-Za-z0-9_.~-]*$' THEN {v} ELSE (SELECT string_agg(CASE WHEN b BETWEEN 48 AND 57 "
    "OR b BETWEEN 65 AND 90 OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126) THEN chr(b) "
    "ELSE '%%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i) "
    "FROM (SELECT i, get_byte(convert_to({v}, 'UTF8'), i) AS b "
    "FROM generate_series(0, octet_length(convert_to({v}, 'UTF8')) - 1) AS i) AS url_bytes) END"
)


@dataclass(frozen=True)
class Target:
    """What columns are compiled for: the schema version, the dialect's escape (None: line breaks kept),
    the site's URL and time zone, the ORM paths the rows hold (``sources[0]`` is the primary key)
    and the rows' model (the SQL form asks it which sources are integers)."""

    version: int
    escape: str | None
    instance_url: str
    time_zone: str
    sources: tuple[str, ...]
    model: type[Model] | None = None
    typed: bool = False  # typed values (Parquet) instead of CSV text; escape is then None

    def index(self, source: str) -> int:
        return self.sources.index(source)

    def ref(self, source: str) -> str:
        return f"s.c{self.index(source)}"


# Python forms shared by kinds (and by callers that write a value as the files do).


def format_utc(value: datetime | None) -> str | None:
    """``2026-11-24T02:00:00.123Z``: UTC, milliseconds (truncated), ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def make_local_formatter(time_zone: str | None = None) -> Callable[[datetime | None], str | None]:
    """``2026-11-24T03:00:00.123+01:00``: the zone (default the server's ``TIME_ZONE``) with its offset."""
    if time_zone is None:
        from django.conf import settings

        time_zone = settings.TIME_ZONE
    zone = zoneinfo.ZoneInfo(time_zone)

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
    """A list as compact JSON (``["a","b"]``, non-ASCII kept); an empty list is an empty cell;
    a stray scalar becomes a one-item list.

    JSON escapes control characters, so the result never holds a raw line break.
    """
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        value = [value]
    if not value:
        return None
    return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))


def typed_string_list(value: Any) -> list[str] | None:
    """Labels as a list of strings, as ``copy_select_sql`` gives them: a stray scalar is a one-item list, an item
    that is not a string its JSON text (a null item an empty string)."""
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        value = [value]
    return [
        v if isinstance(v, str) else "" if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        for v in value
    ]


def url_part(value: Any) -> str:
    """A value placed in a URL (a path segment, a query value, a fragment): percent-encoded UTF-8, every
    character but ``A-Z a-z 0-9 _ . - ~`` (``urllib.parse.quote(value, safe="")``); ``K,"Q"`` -> ``K%2C%22Q%22``."""
    return str(value) if isinstance(value, int) else quote(str(value), safe="")


# SQL forms shared by kinds.


def url_part_sql(value: str) -> str:
    """The SQL of ``value`` (a text expression) percent-encoded for a URL; NULL stays NULL."""
    return "(" + URL_PART_SQL.format(v=value) + ")"


def escaped_sql(sql: str, params: list[Any], escape: str | None) -> Sql:
    """``escape_line_breaks`` in SQL (nothing when line breaks are kept)."""
    if escape is None:
        return sql, params
    e = escape
    return f"replace(replace(replace({sql}, E'\\r\\n', %s), E'\\r', %s), E'\\n', %s)", [*params, e, e, e]


class Kind:
    """One column kind: its Python form and its SQL form, which must give the same text."""

    name = ""
    label = ""  # the type as the schema reference shows it
    description = ""  # what the field holds, for the schema reference
    logical_type = "string"  # int64 | timestamp_us_utc | boolean | string | list<string>
    # SQL true for a value the SQL form would print differently from Python ({v}: the value):
    # a batch holding one is written by the Python form instead.
    python_only_when: str | None = None

    def type_text(self, version: int) -> str:
        return self.label

    def sources(self, column: Column) -> list[str]:
        """The ORM paths the column reads."""
        return [column.source_path] if column.source is not None else []

    def needs_time_zone(self, version: int) -> bool:
        """Whether the SQL form needs PostgreSQL to know the server's time zone."""
        return False

    def compile_python(self, column: Column, target: Target) -> Field:
        if column.mapping:
            mapping, i = column.mapping, target.index(column.source_path)
            return lambda row: mapping.get(row[i])
        return self.typed_python(column, target) if target.typed else self.python(column, target)

    def compile_sql(self, column: Column, target: Target) -> Sql:
        if column.mapping:
            whens = " ".join("WHEN %s THEN %s::text" for _ in column.mapping)
            params = [x for key, value in column.mapping.items() for x in (key, value)]
            mapped = f"CASE {target.ref(column.source_path)} {whens} END"
            return (mapped if target.typed else f"NULLIF({mapped}, '')"), params
        return self.typed_sql(column, target) if target.typed else self.sql(column, target)

    def python(self, column: Column, target: Target) -> Field:
        raise NotImplementedError

    def sql(self, column: Column, target: Target) -> Sql:
        raise NotImplementedError

    def typed_python(self, column: Column, target: Target) -> Field:
        """The typed value: by default the database's value as it is (int, aware datetime, bool, str)."""
        i = target.index(column.source_path)
        return lambda row: row[i]

    def typed_sql(self, column: Column, target: Target) -> Sql:
        """The typed value's COPY CSV form (``parquetfile.copy_select_sql`` of the logical type)."""
        from .parquetfile import copy_select_sql  # pyarrow is loaded by typed exports only

        return copy_select_sql(target.ref(column.source_path), self.logical_type), []


class String(Kind):
    name = "string"
    label = "string"
    description = "Text; line breaks escaped unless preserved, truncated where a version says so."

    def python(self, column: Column, target: Target) -> Field:
        # Any text may hold line breaks (a full name, a key), so all of it is escaped.
        i, escape = target.index(column.source_path), target.escape
        limit = column.max_length.get(target.version)
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

    def sql(self, column: Column, target: Target) -> Sql:
        sql = target.ref(column.source_path)
        limit = column.max_length.get(target.version)
        if limit is not None:
            sql = f"left({sql}, {int(limit)})"
        sql, params = escaped_sql(sql, [], target.escape)
        return f"NULLIF({sql}, '')", params


class Text(String):
    name = "text"
    label = "string (free text)"
    description = "Free text (names, bodies): like string, and more likely to hold line breaks."


class Integer(Kind):
    name = "integer"
    label = "integer"
    description = "A whole number in decimal digits."
    logical_type = "int64"

    def python(self, column: Column, target: Target) -> Field:
        i = target.index(column.source_path)
        return lambda row: row[i]

    def sql(self, column: Column, target: Target) -> Sql:
        return target.ref(column.source_path), []


class Boolean(Kind):
    """``true`` or ``false``; NULL is an empty field."""

    words = {True: "true", False: "false"}
    name = label = logical_type = "boolean"
    description = "`true` or `false`."

    def python(self, column: Column, target: Target) -> Field:
        words, i = self.words, target.index(column.source_path)
        return lambda row: words.get(row[i])

    def sql(self, column: Column, target: Target) -> Sql:
        ref = target.ref(column.source_path)
        return f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END", []


class Timestamp(Kind):
    """ISO 8601 to the millisecond (truncated): version 1 in the server's zone with its offset, later UTC with ``Z``."""

    name = "timestamp"
    label = "timestamp"
    description = "ISO 8601 to the millisecond with an offset."
    logical_type = "timestamp_us_utc"

    def type_text(self, version: int) -> str:
        return self.label + (" (UTC, `Z`)" if version >= 2 else " (server time zone, with offset)")

    def needs_time_zone(self, version: int) -> bool:
        return version < 2

    def python(self, column: Column, target: Target) -> Field:
        i = target.index(column.source_path)
        fmt = format_utc if target.version >= 2 else make_local_formatter(target.time_zone)
        return lambda row: fmt(row[i])

    def sql(self, column: Column, target: Target) -> Sql:
        ref = target.ref(column.source_path)
        if target.version >= 2:
            return f"to_char({ref} AT TIME ZONE 'UTC', '{UTC_FORMAT}')", []
        # Python's isoformat(timespec="milliseconds") in the zone: ...+HH:MM (:SS if any).
        offset = f"extract(epoch FROM ({ref} AT TIME ZONE %s) - ({ref} AT TIME ZONE 'UTC'))::int"
        absolute = f"abs({offset})"
        sql = (
            f"to_char({ref} AT TIME ZONE %s, '{LOCAL_FORMAT}')"
            f" || CASE WHEN {offset} < 0 THEN '-' ELSE '+' END"
            f" || lpad(({absolute} / 3600)::text, 2, '0') || ':' || lpad(({absolute} % 3600 / 60)::text, 2, '0')"
            f" || CASE WHEN {absolute} % 60 = 0 THEN '' ELSE ':' || lpad(({absolute} % 60)::text, 2, '0') END"
        )
        sql = sql.replace("%", "%%").replace("%%s", "%s")
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE {sql} END", [target.time_zone] * sql.count("%s")


class JsonArray(Kind):
    """A JSON list of strings (labels) as compact JSON; an empty list is an empty field."""

    name = "json array"
    label = "JSON array"
    description = 'A JSON array such as `["a","b"]` (non-ASCII kept); an empty list is an empty field.'
    logical_type = "list<string>"
    # PostgreSQL prints arrays of strings like json.dumps(separators=(",", ":")) once ", " becomes ","
    # (a quote-comma-space-quote cannot occur inside a JSON string: its quotes are escaped); not other values.
    # Strict: lax mode would unwrap nested arrays and let [["a"],["b"]] pass (PostgreSQL writes "], [").
    python_only_when = (
        "(jsonb_typeof({v}) NOT IN ('array', 'string', 'null')"
        " OR coalesce({v} @? 'strict $[*] ? (@.type() != \"string\")', false))"
    )

    def python(self, column: Column, target: Target) -> Field:
        i = target.index(column.source_path)
        return lambda row: format_json_array(row[i])

    def typed_python(self, column: Column, target: Target) -> Field:
        i = target.index(column.source_path)
        return lambda row: typed_string_list(row[i])

    def sql(self, column: Column, target: Target) -> Sql:
        ref = target.ref(column.source_path)
        return (
            f"CASE jsonb_typeof({ref}) WHEN 'array' THEN NULLIF(replace({ref}::text, '\", \"', '\",\"'), '[]') "
            f"WHEN 'null' THEN NULL ELSE '[' || {ref}::text || ']' END",
            [],
        )


class Url(Kind):
    """The site's URL followed by ``column.url`` with each ``{source}`` percent-encoded; empty if one is NULL."""

    name = "url"
    label = "string (URL)"
    description = "A link: the site's base URL and a path with its values percent-encoded."

    def sources(self, column: Column) -> list[str]:
        return URL_FIELD.findall(column.url or "")

    # Typed, a URL is the same text (a typed target has no escape).
    def typed_python(self, column: Column, target: Target) -> Field:
        return self.python(column, target)

    def typed_sql(self, column: Column, target: Target) -> Sql:
        return self.sql(column, target)

    def python(self, column: Column, target: Target) -> Field:
        escape, instance_url = target.escape, target.instance_url
        if not column.url:
            value = instance_url if escape is None else escape_line_breaks(instance_url, escape)
            return lambda row: value
        names = URL_FIELD.findall(column.url)
        indexes = [target.index(n) for n in names]
        template = instance_url + URL_FIELD.sub(lambda m: "{" + str(names.index(m.group(1))) + "}", column.url)

        def url(row: Sequence[Any]) -> str | None:
            values = [row[i] for i in indexes]
            if any(v is None for v in values):
                return None
            text = template.format(*[url_part(v) for v in values])
            return text if escape is None else escape_line_breaks(text, escape)

        return url

    def sql(self, column: Column, target: Target) -> Sql:
        pieces: list[str] = ["%s::text"]
        params: list[Any] = [target.instance_url]
        rest = column.url or ""
        position = 0
        for match in URL_FIELD.finditer(rest):
            if match.start() > position:
                pieces.append("%s::text")
                params.append(rest[position : match.start()])
            ref = f"{target.ref(match.group(1))}::text"
            pieces.append(ref if _integer(target.model, match.group(1)) else url_part_sql(ref))
            position = match.end()
        if position < len(rest):
            pieces.append("%s::text")
            params.append(rest[position:])
        sql = pieces[0] if len(pieces) == 1 else "(" + " || ".join(pieces) + ")"
        sql, params = escaped_sql(sql, params, target.escape)
        return f"NULLIF({sql}, '')", params


def _integer(model: type[Model] | None, source: str) -> bool:
    """Whether a URL's source is an integer column (an id): its digits need no encoding."""
    if model is None:
        return False
    try:
        field = model._meta.get_field(source)
    except FieldDoesNotExist:
        return False
    field = getattr(field, "target_field", None) or field  # a foreign key's id is its target's type
    return field.get_internal_type() in INTEGER_FIELDS


STRING = String()
TEXT = Text()
INTEGER = Integer()
BOOLEAN = Boolean()
TIMESTAMP = Timestamp()
JSON_ARRAY = JsonArray()
URL = Url()
