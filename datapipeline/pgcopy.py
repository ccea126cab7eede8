"""The PostgreSQL COPY path: the same files as the standard path, byte for byte, formatted by the database.

For each entity and schema version, :func:`build_select` turns the columns of ``datapipeline.schema``
into one SELECT whose values are exactly the texts ``RowFormatter`` makes (times, JSON arrays,
URLs, mapped values, truncation, line-break escaping), over the same queryset as the standard
path (same joins and filters: Django compiles it). :func:`export_entity` runs, per keyset batch,
a cheap bound query (the batch's last primary key) and then ``COPY (SELECT ... WHERE pk > lo AND
pk <= hi ORDER BY pk) TO STDOUT (FORMAT csv)`` in one short REPEATABLE READ transaction, streams the
COPY data through the file's writer and calls the export control between batches, like the
standard path (progress, heartbeat, cancel, disk guard, throttle).

Why the bytes are the same as Python's ``csv`` module with ``QUOTE_MINIMAL`` and CRLF:

* both quote a field when it holds ``,``, ``"``, CR or LF, and double the quotes inside;
* PostgreSQL quotes an empty string (``""``) where ``csv`` writes nothing: every text value is
  wrapped in ``NULLIF(..., '')``, and NULL is written as nothing by both;
* PostgreSQL quotes ``\\.`` only when it is the only column of a row; no entity has one column
  (checked);
* PostgreSQL ends records with LF: the stream is rewritten LF -> CRLF for record ends only (with
  escaped line breaks no field can hold a line break, so every LF is a record end; with preserved
  line breaks the rewrite tracks whether it is inside a quoted field).

A batch whose labels are not all JSON strings (numbers with fractions, nested arrays or objects:
PostgreSQL and Python print those differently) is written by the standard path instead, in the
same transaction; so are whole exports where the database is not PostgreSQL, ``DATAPIPELINE_PG_COPY``
is off, or PostgreSQL does not know the server's ``TIME_ZONE`` (schema version 1).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery

from .control import ExportControl
from .csvfile import CsvFileWriter
from .formatting import URL_FIELD, Dialect, RowFormatter
from .schema import ENTITY_BY_NAME, INTEGER, JSON_ARRAY, TIMESTAMP, URL, Column, Entity

log = logging.getLogger(__name__)

FLUSH_BYTES = 1 << 20  # COPY data is written to the file in pieces of about this size
UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
LOCAL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS'
# Labels PostgreSQL prints like Python's json.dumps(separators=(",", ":")) once ", " becomes ",":
# arrays of strings (a quote-comma-space-quote cannot occur inside a JSON string: its quotes are escaped).
JSON_NOT_PLAIN = "(jsonb_typeof({v}) NOT IN ('array', 'string', 'null') OR {v} @? '$[*] ? (@.type() != \"string\")')"


def enabled() -> bool:
    """Whether exports use the COPY path: PostgreSQL, and ``DATAPIPELINE_PG_COPY`` not turned off."""
    return connection.vendor == "postgresql" and getattr(settings, "DATAPIPELINE_PG_COPY", True)


def usable(entity: Entity, version: int) -> bool:
    """Whether this entity and version can be written by COPY with the standard path's bytes."""
    if not enabled() or len(entity.columns_for(version)) < 2:  # a lone "\." would be quoted
        return False
    if version < 2 and any(c.kind == TIMESTAMP for c in entity.columns_for(version)):
        return _zone_known(settings.TIME_ZONE)
    return True


def _zone_known(zone: str) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT now() AT TIME ZONE %s", [zone])
    except Exception:  # an unknown zone name: the standard path formats the times
        log.info("PostgreSQL does not know the time zone %r; exporting with the standard path.", zone)
        return False
    return True


def base_queryset(entity: Entity, export_from: Any, opted_out_ids: Sequence[int]) -> QuerySet[Any]:
    """The rows of the entity, filtered as the standard path filters them."""
    queryset = entity.queryset()
    if entity.date_field:
        queryset = queryset.filter(**{f"{entity.date_field}__gte": export_from})
    if entity.space_field and opted_out_ids:
        queryset = queryset.exclude(**{f"{entity.space_field}__in": list(opted_out_ids)})
    return queryset


class Select:
    """The SELECT of one entity and version: value expressions over ``s.c<i>`` (the formatter's sources)."""

    def __init__(self, formatter: RowFormatter, dialect: Dialect, instance_url: str, time_zone: str):
        self.formatter = formatter
        self.sources = formatter.sources  # sources[0] is the primary key
        self.escape = None if dialect.preserve_line_breaks else dialect.line_break_escape
        self.time_zone = time_zone
        self.instance_url = instance_url
        expressions: list[str] = []
        params: list[Any] = []
        for column in formatter.columns:
            sql, column_params = self._column(column)
            expressions.append(sql)
            params.extend(column_params)
        self.select_list = ", ".join(expressions)
        self.select_params = params
        self.json_sources = [
            self._ref(c.source or "") for c in formatter.columns if c.kind == JSON_ARRAY and not c.mapping
        ]
        self.line_breaks_possible = self.escape is None or "\r" in self.escape or "\n" in self.escape
        if any("\r" in v or "\n" in v for c in formatter.columns for v in c.mapping.values()):
            self.line_breaks_possible = True

    def _ref(self, source: str) -> str:
        return f"s.c{self.sources.index(source)}"

    def _escaped(self, sql: str, params: list[Any]) -> tuple[str, list[Any]]:
        if self.escape is None:
            return sql, params
        e = self.escape
        return f"replace(replace(replace({sql}, E'\\r\\n', %s), E'\\r', %s), E'\\n', %s)", [*params, e, e, e]

    def _column(self, column: Column) -> tuple[str, list[Any]]:
        if column.kind == URL:
            if not column.url:
                sql, params = self._escaped("%s::text", [self.instance_url])
                return f"NULLIF({sql}, '')", params
            pieces: list[str] = ["%s::text"]
            params = [self.instance_url]
            rest = column.url
            position = 0
            for match in URL_FIELD.finditer(rest):
                if match.start() > position:
                    pieces.append("%s::text")
                    params.append(rest[position : match.start()])
                pieces.append(f"{self._ref(match.group(1))}::text")
                position = match.end()
            if position < len(rest):
                pieces.append("%s::text")
                params.append(rest[position:])
            sql, params = self._escaped("(" + " || ".join(pieces) + ")", params)
            return f"NULLIF({sql}, '')", params
        ref = self._ref(column.source or "")
        if column.mapping:
            whens = " ".join("WHEN %s THEN %s::text" for _ in column.mapping)
            params = [x for key, value in column.mapping.items() for x in (key, value)]
            return f"NULLIF(CASE {ref} {whens} END, '')", params
        if column.kind == TIMESTAMP:
            if self.formatter.version >= 2:
                return f"to_char({ref} AT TIME ZONE 'UTC', '{UTC_FORMAT}')", []
            return self._local_time(ref)
        if column.kind == JSON_ARRAY:
            return (
                f"CASE jsonb_typeof({ref}) WHEN 'array' THEN replace({ref}::text, '\", \"', '\",\"') "
                f"WHEN 'null' THEN NULL ELSE '[' || {ref}::text || ']' END",
                [],
            )
        if column.kind == INTEGER:
            return ref, []
        sql, params = ref, []
        limit = column.max_length.get(self.formatter.version)
        if limit is not None:
            sql = f"left({sql}, {int(limit)})"
        sql, params = self._escaped(sql, params)
        return f"NULLIF({sql}, '')", params

    def _local_time(self, ref: str) -> tuple[str, list[Any]]:
        """Python's ``isoformat(timespec="milliseconds")`` in the server's zone: ``...+HH:MM`` (``:SS`` if any)."""
        offset = f"extract(epoch FROM ({ref} AT TIME ZONE %s) - ({ref} AT TIME ZONE 'UTC'))::int"
        absolute = f"abs({offset})"
        sql = (
            f"to_char({ref} AT TIME ZONE %s, '{LOCAL_FORMAT}')"
            f" || CASE WHEN {offset} < 0 THEN '-' ELSE '+' END"
            f" || lpad(({absolute} / 3600)::text, 2, '0') || ':' || lpad(({absolute} % 3600 / 60)::text, 2, '0')"
            f" || CASE WHEN {absolute} % 60 = 0 THEN '' ELSE ':' || lpad(({absolute} % 60)::text, 2, '0') END"
        )
        sql = sql.replace("%", "%%").replace("%%s", "%s")
        zone = self.time_zone
        return f"CASE WHEN {ref} IS NULL THEN NULL ELSE {sql} END", [zone] * (sql.count("%s"))

    def inner(self, queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
        """The rows' sources as ``c0, c1, ...`` (Django compiles the joins and filters)."""
        values = queryset.order_by().values(**{f"c{i}": _source(source) for i, source in enumerate(self.sources)})
        sql, params = values.query.sql_with_params()
        return sql, tuple(params)

    def sql(self, queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
        inner, inner_params = self.inner(queryset)
        return (
            f"SELECT {self.select_list} FROM ({inner}) AS s ORDER BY s.c0",  # noqa: S608 - compiled, params bound
            [*self.select_params, *inner_params],
        )

    def bound_sql(self, queryset: QuerySet[Any], after: Any, limit: int) -> tuple[str, list[Any]]:
        """How many rows the next batch has, its last primary key, and whether its labels need Python."""
        page = queryset.order_by("pk") if after is None else queryset.filter(pk__gt=after).order_by("pk")
        names = {"c0": F("pk")} | {r[2:]: F(self.sources[int(r[3:])]) for r in self.json_sources}
        sql, params = page.values(**names)[:limit].query.sql_with_params()
        plain = " OR ".join(JSON_NOT_PLAIN.format(v=r) for r in self.json_sources) or "false"
        bound = f"SELECT count(*), max(s.c0), coalesce(bool_or({plain}), false) FROM ({sql}) AS s"  # noqa: S608
        return bound, list(params)


def _source(source: str) -> Any:
    """The ORM path as an expression; a user's key is read with an index lookup, not two joins per user.

    ``creator__profile__user_key`` joins auth_user and then wiki_profile, and PostgreSQL hashes
    both whole tables for every batch. A profile's ``user_id`` is unique and the foreign key
    guarantees the user, so the subquery gives the same value (NULL without a user or a profile).
    """
    from wiki.models import Profile

    suffix = "profile__user_key"
    if source.endswith(suffix):
        prefix = source[: -len(suffix)]
        user = OuterRef(f"{prefix[:-2]}_id" if prefix else "pk")
        return Subquery(Profile.objects.filter(user_id=user).values("user_key")[:1])
    return F(source)


def select_sql(entity: Entity | str, version: int, job_like: Any) -> tuple[str, list[Any]]:
    """The whole entity's SELECT (ordered by primary key) and its parameters, as the COPY path runs it in batches.

    ``job_like`` needs ``export_from`` and ``opted_out_spaces`` (space keys); the line-break
    properties and ``INSTANCE_URL`` are read as an export reads them. For measuring the raw
    ``COPY (SELECT ...) TO STDOUT`` time of the same columns.
    """
    from .properties import get_property
    from .runner import _opted_out_space_ids

    if isinstance(entity, str):
        entity = ENTITY_BY_NAME[entity]
    dialect = Dialect(
        preserve_line_breaks=get_property("plugin.data.pipeline.embedded.line.break.preserve"),
        line_break_escape=get_property("plugin.data.pipeline.embedded.line.break.escape.char"),
    )
    formatter = RowFormatter(entity, version, dialect, settings.INSTANCE_URL)
    select = Select(formatter, dialect, settings.INSTANCE_URL, settings.TIME_ZONE)
    opted_out = _opted_out_space_ids(list(getattr(job_like, "opted_out_spaces", []) or []))
    return select.sql(base_queryset(entity, getattr(job_like, "export_from", None), opted_out))


def _crlf_fast(data: bytes, inside: bool) -> tuple[bytes, bool]:
    """No field can hold a line break: every LF ends a record."""
    return data.replace(b"\n", b"\r\n"), inside


def _crlf_quoted(data: bytes, inside: bool) -> tuple[bytes, bool]:
    """LF -> CRLF outside quoted fields only; ``inside`` carries the quote state across pieces."""
    if b'"' not in data:
        return (data if inside else data.replace(b"\n", b"\r\n")), inside
    parts = data.split(b'"')
    outside_parity = 1 if inside else 0
    for i in range(outside_parity, len(parts), 2):
        if b"\n" in parts[i]:
            parts[i] = parts[i].replace(b"\n", b"\r\n")
    # Each quote toggles the state ("" inside a field toggles twice).
    return b'"'.join(parts), inside != ((len(parts) - 1) % 2 == 1)


def export_entity(
    *,
    entity: Entity,
    job: Any,
    formatter: RowFormatter,
    dialect: Dialect,
    writer: CsvFileWriter,
    control: ExportControl,
    opted_out_ids: list[int],
    batch_size: int,
) -> None:
    """Write the entity's rows with COPY, a keyset batch at a time (see the module docstring)."""
    select = Select(formatter, dialect, settings.INSTANCE_URL, settings.TIME_ZONE)
    queryset = base_queryset(entity, job.export_from, opted_out_ids)
    control.start_entity(entity.name, queryset.count())
    convert = _crlf_quoted if select.line_breaks_possible else _crlf_fast
    batches = _Batches(select, queryset, batch_size, convert)
    if _two_streams(control):
        _export_two_streams(entity, formatter, writer, control, batches)
        return
    import psycopg

    last_pk = None
    while True:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            connection.ensure_connection()
            cursor = psycopg.ClientCursor(connection.connection)
            if outermost:  # the bound and the rows see the same snapshot
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(BATCH_SETTINGS.replace("SET ", "SET LOCAL "))
            count, high, needs_python = batches.bound(cursor, last_pk)
            if count:
                if needs_python:
                    _write_in_python(formatter, writer, batches.rows(last_pk, high), batch_size)
                else:
                    batches.copy(cursor, last_pk, high, writer.write_bytes)
            cursor.close()
        if not count:
            break
        writer.rows += count
        last_pk = high
        control.after_batch(entity.name, count)
        if count < batch_size:
            break


# A batch is small: parallel workers and JIT compilation cost more than they save.
BATCH_SETTINGS = "SET max_parallel_workers_per_gather = 0; SET jit = off"


# Stand-ins for a batch's bounds while Django compiles its SQL once (in range for an integer key).
_LOW, _HIGH = -2_147_483_001, -2_147_483_002


class _Batches:
    """The bound query and the COPY of one batch, compiled once, runnable on any psycopg connection."""

    def __init__(self, select: Select, queryset: QuerySet[Any], batch_size: int, convert: Any):
        self.queryset, self.batch_size, self.convert = queryset, batch_size, convert
        self._bound_first = select.bound_sql(queryset, None, batch_size)
        self._bound_next = select.bound_sql(queryset, _LOW, batch_size)
        self._copy_first = select.sql(queryset.filter(pk__lte=_HIGH))
        self._copy_next = select.sql(queryset.filter(pk__gt=_LOW, pk__lte=_HIGH))

    @staticmethod
    def _bind(template: tuple[str, list[Any]], low: Any, high: Any = None) -> tuple[str, list[Any]]:
        sql, params = template
        marks = {_LOW: low, _HIGH: high}
        return sql, [marks[p] if type(p) is int and p in marks else p for p in params]

    def bound(self, cursor: Any, after: Any) -> tuple[int, Any, bool]:
        cursor.execute(*self._bind(self._bound_first if after is None else self._bound_next, after))
        count, high, needs_python = cursor.fetchone()
        return count, high, needs_python

    def rows(self, after: Any, high: Any) -> QuerySet[Any]:
        batch = self.queryset.filter(pk__lte=high)
        return batch if after is None else batch.filter(pk__gt=after)

    def copy(self, cursor: Any, after: Any, high: Any, write: Any) -> None:
        sql, params = self._bind(self._copy_first if after is None else self._copy_next, after, high)
        buffer = bytearray()
        inside = False
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= FLUSH_BYTES:
                    out, inside = self.convert(bytes(buffer), inside)
                    write(out)
                    buffer.clear()
        if buffer:
            out, inside = self.convert(bytes(buffer), inside)
            write(out)


def _write_in_python(formatter: RowFormatter, writer: CsvFileWriter, rows: QuerySet[Any], batch_size: int) -> None:
    values = rows.order_by("pk").values_list(*formatter.sources)
    writer.write_rows(map(formatter.format, values.iterator(chunk_size=batch_size)))


def _two_streams(control: ExportControl) -> bool:
    """Unthrottled, outside a transaction: a second connection reads the next batch while this one is written.

    With a throttle the export is meant to leave the database alone during its pauses, so it
    reads one batch at a time; inside a transaction (tests) another connection would not see its rows.
    """
    return (
        control.throttle_ratio == 0
        and getattr(settings, "DATAPIPELINE_PG_COPY_STREAMS", 2) >= 2
        and not connection.in_atomic_block
    )


def _connect() -> Any:
    import psycopg

    connection.ensure_connection()
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params, autocommit=False, cursor_factory=psycopg.ClientCursor)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute(BATCH_SETTINGS)
    conn.execute("SET client_encoding = 'UTF8'")
    conn.commit()
    return conn


def _export_two_streams(
    entity: Entity, formatter: RowFormatter, writer: CsvFileWriter, control: ExportControl, batches: _Batches
) -> None:
    """Batch k+1's COPY runs on the other connection while batch k is written; files are written in order.

    Each batch's bound query and COPY share one REPEATABLE READ transaction on its connection. At
    most two batches are in memory (~15 MB for 5,000 pages).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    connections = [_connect(), _connect()]

    def read(index: int, low: Any, bound: Future[Any]) -> list[bytes]:
        conn = connections[index % 2]
        try:
            with conn.cursor() as cursor:
                count, high, needs_python = batches.bound(cursor, low)
                bound.set_result((count, high, needs_python))
                chunks: list[bytes] = []
                if count and not needs_python:
                    batches.copy(cursor, low, high, chunks.append)
            conn.commit()
            return chunks
        except BaseException as exc:
            if not bound.done():
                bound.set_exception(exc)
            conn.rollback()
            raise

    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pgcopy")
    try:
        bound: Future[Any] = Future()
        pending = [(bound, executor.submit(read, 0, None, bound))]
        index = 0
        last_pk = None
        while pending:
            bound, chunks = pending.pop(0)
            count, high, needs_python = bound.result()
            if count == batches.batch_size:  # start the next batch on the other connection now
                index += 1
                following: Future[Any] = Future()
                pending.append((following, executor.submit(read, index, high, following)))
            data = chunks.result()
            if not count:
                break
            if needs_python:
                _write_in_python(formatter, writer, batches.rows(last_pk, high), batches.batch_size)
            else:
                for piece in data:
                    writer.write_bytes(piece)
            del data, chunks  # let the batch go before waiting for the next one (two batches in memory at most)
            writer.rows += count
            last_pk = high
            control.after_batch(entity.name, count)
    except BaseException:  # cancelled, disk full, shutdown: stop the batch being read on the other connection
        for conn in connections:
            conn.cancel_safe()
        raise
    finally:
        executor.shutdown(wait=True)
        for conn in connections:
            conn.close()
