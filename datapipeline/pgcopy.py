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
* (Parquet: a typed formatter's SELECT gives ``parquetfile.copy_select_sql``'s forms, passed to the
  Parquet writer as they come; none of the points below apply.)
* PostgreSQL ends records with LF: the stream is rewritten LF -> CRLF for record ends only (with
  escaped line breaks no field can hold a line break, so every LF is a record end; with preserved
  line breaks the rewrite tracks whether it is inside a quoted field).

A batch whose labels are not all JSON strings (numbers with fractions, nested arrays or objects:
PostgreSQL and Python print those differently) is written by the standard path instead, in the
same transaction; so are whole exports where the database is not PostgreSQL, ``DATAPIPELINE_PG_COPY``
is off, or PostgreSQL does not know the server's ``TIME_ZONE`` (schema version 1).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet

from .batches import Batch, FileWriter, OneAtATime
from .control import ExportControl
from .formatting import Dialect, RowFormatter
from .kinds import url_part_sql  # noqa: F401 - the benchmark's and tests' name for it
from .properties import PROPERTIES
from .registry import Dataset, dataset, opted_out_ids
from .throttle import AdaptiveThrottle

log = logging.getLogger(__name__)

FLUSH_BYTES = 1 << 20  # COPY data is written to the file in pieces of about this size


def enabled() -> bool:
    """Whether exports use the COPY path: PostgreSQL, and ``DATAPIPELINE_PG_COPY`` not turned off."""
    return connection.vendor == "postgresql" and getattr(settings, "DATAPIPELINE_PG_COPY", True)


def usable(dataset: Dataset, version: int, *, typed: bool = False) -> bool:
    """Whether this dataset and version can be written by COPY with the standard path's bytes (``typed``: values)."""
    columns = dataset.columns_for(version)
    if not enabled() or len(columns) < 2:  # a lone "\." would be quoted
        return False
    if not typed and any(c.kind.needs_time_zone(version) for c in columns):
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


class Select:
    """The SELECT of one dataset and version: each column's SQL form (its kind's) over ``s.c<i>``, the
    formatter's sources."""

    def __init__(self, formatter: RowFormatter):
        self.formatter = formatter
        self.sources = formatter.sources  # sources[0] is the primary key
        self.lookups = formatter.dataset.lookups()
        target = dataclasses.replace(formatter.target, model=formatter.dataset.rows().model)
        expressions: list[str] = []
        params: list[Any] = []
        for column in formatter.columns:
            sql, column_params = column.kind.compile_sql(column, target)
            expressions.append(sql)
            params.extend(column_params)
        self.select_list = ", ".join(expressions)
        self.select_params = params
        # Columns whose values the SQL form may print differently: checked per batch by the bound query.
        self.python_only = {
            f"c{target.index(c.source_path)}": c.kind.python_only_when
            for c in formatter.columns
            if c.kind.python_only_when and not c.mapping
        }
        escape = target.escape
        self.line_breaks_possible = escape is None or "\r" in escape or "\n" in escape
        if any("\r" in v or "\n" in v for c in formatter.columns for v in c.mapping.values()):
            self.line_breaks_possible = True

    def _source(self, source: str) -> Any:
        """The ORM path as an expression; a lookup (a user's key) is read from the row where it is stored
        (``datapipeline.stored``), else by an index lookup, not joins."""
        lookup = self.lookups.get(source)
        if lookup is None:
            return F(source)
        return F(lookup.stored) if lookup.stored else lookup.expression()

    def inner(self, queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
        """The rows' sources as ``c0, c1, ...`` (Django compiles the joins and filters)."""
        names = {f"c{i}": self._source(source) for i, source in enumerate(self.sources)}
        sql, params = queryset.order_by().values(**names).query.sql_with_params()
        return sql, tuple(params)

    def sql(self, queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
        inner, inner_params = self.inner(queryset)
        return (
            f"SELECT {self.select_list} FROM ({inner}) AS s ORDER BY s.c0",  # noqa: S608 - compiled, params bound
            [*self.select_params, *inner_params],
        )

    def bound_sql(self, queryset: QuerySet[Any], after: Any, limit: int) -> tuple[str, list[Any]]:
        """How many rows the next batch has, its last primary key, and whether its values need Python."""
        page = queryset.order_by("pk") if after is None else queryset.filter(pk__gt=after).order_by("pk")
        names = {"c0": F("pk")} | {name: F(self.sources[int(name[1:])]) for name in self.python_only}
        sql, params = page.values(**names)[:limit].query.sql_with_params()
        plain = " OR ".join(when.format(v=f"s.{name}") for name, when in self.python_only.items()) or "false"
        bound = f"SELECT count(*), max(s.c0), coalesce(bool_or({plain}), false) FROM ({sql}) AS s"  # noqa: S608
        return bound, list(params)


def select_sql(which: Dataset | str, version: int, job_like: Any) -> tuple[str, list[Any]]:
    """The whole dataset's SELECT (ordered by primary key) and its parameters, as the COPY path runs it in batches.

    ``job_like`` needs ``export_from`` and ``opted_out_spaces`` (the job's opt-out list); the line-break
    properties and ``INSTANCE_URL`` are read as an export reads them. For measuring the raw
    ``COPY (SELECT ...) TO STDOUT`` time of the same columns.
    """
    chosen = dataset(which) if isinstance(which, str) else which
    formatter = RowFormatter(chosen, version, Dialect.from_properties(), settings.INSTANCE_URL)
    opted_out = opted_out_ids(getattr(job_like, "opted_out_spaces", None))
    return Select(formatter).sql(chosen.queryset(getattr(job_like, "export_from", None), opted_out))


def _as_is(data: bytes, inside: bool) -> tuple[bytes, bool]:
    return data, inside


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


# A batch is small: parallel workers and JIT compilation cost more than they save. work_mem lets a
# batch's sort by primary key stay in memory (with the default 4 MB a batch of pages spills to disk).
BATCH_SETTINGS = "SET max_parallel_workers_per_gather = 0; SET jit = off; SET work_mem = '64MB'"

# With the batch-size property at its default, rows per COPY batch follow the data's width: about
# TARGET_BATCH_BYTES of CSV a batch (two batches are in memory when two connections read), at least the
# default's rows and at most MAX_BATCH_ROWS. A batch size set by the administrator is kept as set.
# Narrow rows (comments, events, users) then come in batches large enough that hashing the profiles
# once per batch beats looking a user's key up per row (JOIN_FROM_ROWS).
TARGET_BATCH_BYTES = 16 << 20
MAX_BATCH_ROWS = 100_000
JOIN_FROM_ROWS = 20_000
# A Parquet export's batches (typed COPY data for the Parquet writer) aim at fewer bytes, and may hold fewer rows
# than the default (wide pages): the process also holds pyarrow and the writer's parse pieces, so the two batches
# in memory are kept small. Measured on the full-scale site: the COPY time per row barely changes (2 MB batches
# were slower and no smaller at the peak; see README, Parquet vs CSV).
TYPED_BATCH_BYTES = 4 << 20
TYPED_MIN_BATCH_ROWS = 500

# Stand-ins for a batch's bounds and row limit while Django compiles its SQL once (in range for an integer key).
_LOW, _HIGH = -2_147_483_001, -2_147_483_002
_LIMIT = 2_147_483_003
# A Lookup's subquery as Django compiles it: the value, the lookup table, its unique column, the row's column.
_LOOKUP_SUBQUERY = re.compile(
    r'\(SELECT U0\."(\w+)" AS "\1" FROM "(\w+)" U0 WHERE U0\."(\w+)" = \(("\w+"\."\w+")\) LIMIT 1\)'
)


def _lookups_joined(template: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """The same SELECT with each lookup subquery (a user's key) turned into a LEFT JOIN (one hash per batch).

    A lookup's column is unique, so the join gives each row at most one value, as ``LIMIT 1`` did.
    """
    sql, params = template
    joins: list[str] = []

    def joined(match: re.Match[str]) -> str:
        value, table, unique, outer = match.groups()
        alias = f"lk{len(joins)}"
        joins.append(f' LEFT OUTER JOIN "{table}" "{alias}" ON ("{alias}"."{unique}" = {outer})')
        return f'"{alias}"."{value}"'

    sql = _LOOKUP_SUBQUERY.sub(joined, sql)
    if not joins:
        return template
    start = sql.index(' FROM "')
    end = sql.index(" ", sql.index('"', start + 7) + 1)  # after the base table's name
    return sql[:end] + "".join(joins) + sql[end:], params


class _Batches:
    """The bound query and the COPY of one batch, compiled once, runnable on any psycopg connection.

    ``limit`` is the next batch's row count; ``learn`` sets it from the bytes the last batch gave.
    """

    def __init__(self, select: Select, queryset: QuerySet[Any], batch_size: int, convert: Any, *, typed: bool = False):
        self.queryset, self.batch_size, self.convert = queryset, batch_size, convert
        self.limit = batch_size
        self.target_bytes = TYPED_BATCH_BYTES if typed else TARGET_BATCH_BYTES
        self.min_rows = min(batch_size, TYPED_MIN_BATCH_ROWS) if typed else batch_size
        self._bound_first = _limit_parameter(select.bound_sql(queryset, None, _LIMIT))
        self._bound_next = _limit_parameter(select.bound_sql(queryset, _LOW, _LIMIT))
        copy_first = select.sql(queryset.filter(pk__lte=_HIGH))
        copy_next = select.sql(queryset.filter(pk__gt=_LOW, pk__lte=_HIGH))
        self._copy = {False: (copy_first, copy_next), True: (_lookups_joined(copy_first), _lookups_joined(copy_next))}

    @staticmethod
    def _bind(template: tuple[str, list[Any]], low: Any, high: Any = None) -> tuple[str, list[Any]]:
        sql, params = template
        marks = {_LOW: low, _HIGH: high}
        return sql, [marks[p] if type(p) is int and p in marks else p for p in params]

    def bound(self, cursor: Any, after: Any, limit: int) -> tuple[int, Any, bool]:
        sql, params = self._bind(self._bound_first if after is None else self._bound_next, after)
        cursor.execute(sql, [*params, limit])
        count, high, needs_python = cursor.fetchone()
        return count, high, needs_python

    def learn(self, rows: int, size: int) -> None:
        """Size the next batch to about ``target_bytes`` from the last one's bytes per row (default size only)."""
        if rows and size and self.batch_size == default_batch_size():
            self.limit = max(self.min_rows, min(MAX_BATCH_ROWS, self.target_bytes * rows // size))

    def rows(self, after: Any, high: Any) -> QuerySet[Any]:
        batch = self.queryset.filter(pk__lte=high)
        return batch if after is None else batch.filter(pk__gt=after)

    def copy(self, cursor: Any, after: Any, high: Any, count: int, write: Any) -> int:
        """COPY the batch's rows through ``write``; returns the bytes written."""
        first, following = self._copy[count >= JOIN_FROM_ROWS]
        sql, params = self._bind(first if after is None else following, after, high)
        buffer = bytearray()
        inside = False
        written = 0
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= FLUSH_BYTES:
                    out, inside = self.convert(bytes(buffer), inside)
                    write(out)
                    written += len(out)
                    buffer.clear()
        if buffer:
            out, inside = self.convert(bytes(buffer), inside)
            write(out)
            written += len(out)
        return written


def default_batch_size() -> int:
    """The batch-size property's default: the one size the COPY path adapts to the rows' width."""
    prop = PROPERTIES["plugin.data.pipeline.export.batch.size"]
    return prop.parse(prop.default)


def _limit_parameter(template: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """The bound query with its row limit as the last parameter (the limit changes from batch to batch)."""
    sql, params = template
    marker = f"LIMIT {_LIMIT}"
    if sql.count(marker) != 1 or ("%s" in sql and sql.rindex("%s") > sql.index(marker)):
        raise ValueError(f"Unexpected bound query: {sql}")
    return sql.replace(marker, "LIMIT %s"), params


def _write_in_python(formatter: RowFormatter, writer: FileWriter, rows: QuerySet[Any], batch_size: int) -> None:
    values = rows.order_by("pk").values_list(*formatter.sources)
    writer.write_rows(map(formatter.format, values.iterator(chunk_size=batch_size)))


def _two_streams(control: ExportControl) -> bool:
    """Unthrottled or adaptive, outside a transaction: a second connection can read the next batch while this one
    is written.

    A fixed throttle is meant to leave the database alone during its pauses, so it reads one batch at a
    time; an adaptive one reads ahead only while it sees an idle site (``ExportControl.prefetch_allowed``).
    Inside a transaction (tests) another connection would not see its rows.
    """
    return (
        (control.throttle is None or isinstance(control.throttle, AdaptiveThrottle))
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


def copy_source(
    formatter: RowFormatter, queryset: QuerySet[Any], batch_size: int, writer: FileWriter, control: ExportControl
) -> OneStream | TwoStreams:
    """The batches of the dataset's rows as COPY bytes, on one connection or two (see ``_two_streams``)."""
    select = Select(formatter)
    if formatter.target.typed:  # Parquet's writer parses PostgreSQL's CSV as it comes
        convert: Any = _as_is
    else:
        convert = _crlf_quoted if select.line_breaks_possible else _crlf_fast
    batches = _Batches(select, queryset, batch_size, convert, typed=formatter.target.typed)
    stream = TwoStreams if _two_streams(control) else OneStream
    return stream(batches, formatter, writer)


class OneStream(OneAtATime):
    """Each batch's bound query and COPY in one short REPEATABLE READ transaction on Django's connection, the COPY
    data written to the file as it comes."""

    def __init__(self, batches: _Batches, formatter: RowFormatter, writer: FileWriter):
        self.batches, self.formatter, self.writer = batches, formatter, writer

    def _batch(self, after: Any) -> Batch:
        import psycopg

        batches = self.batches
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            connection.ensure_connection()
            cursor = psycopg.ClientCursor(connection.connection)
            if outermost:  # the bound and the rows see the same snapshot
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(BATCH_SETTINGS.replace("SET ", "SET LOCAL "))
            limit = batches.limit
            count, high, needs_python = batches.bound(cursor, after, limit)
            if count and needs_python:
                _write_in_python(self.formatter, self.writer, batches.rows(after, high), batches.batch_size)
            elif count:
                batches.learn(count, batches.copy(cursor, after, high, count, self.writer.write_bytes))
            cursor.close()
        return Batch(count, high, limit, _written)


def _written() -> None:
    """A batch written while it was read."""


class TwoStreams:
    """Batch k+1's COPY runs on the other connection while batch k is written; files are written in order.

    Each batch's bound query and COPY share one REPEATABLE READ transaction on its connection. At
    most two batches are in memory (~15 MB for 5,000 pages). Leaving the block on an error (cancelled,
    disk full, shutdown) stops the batch being read on the other connection.
    """

    reads_ahead = True

    def __init__(self, batches: _Batches, formatter: RowFormatter, writer: FileWriter):
        self.batches, self.formatter, self.writer = batches, formatter, writer
        self.connections = [_connect(), _connect()]
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pgcopy")
        self.index = -1

    def __enter__(self) -> TwoStreams:
        return self

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        try:
            if error is not None:
                for conn in self.connections:
                    conn.cancel_safe()
        finally:
            self.executor.shutdown(wait=True)
            for conn in self.connections:
                conn.close()

    def read(self, after: Any) -> Callable[[], Batch]:
        """Start reading the batch after ``after`` on the next connection; the callable waits for its bound."""
        self.index += 1
        bound: Future[Any] = Future()
        chunks = self.executor.submit(self._read, self.connections[self.index % 2], after, self.batches.limit, bound)

        def batch() -> Batch:
            count, high, needs_python, limit = bound.result()
            return Batch(count, high, limit, lambda: self._write(chunks, after, high, count, needs_python))

        return batch

    def _read(self, conn: Any, after: Any, limit: int, bound: Future[Any]) -> list[bytes]:
        try:
            with conn.cursor() as cursor:
                count, high, needs_python = self.batches.bound(cursor, after, limit)
                bound.set_result((count, high, needs_python, limit))
                chunks: list[bytes] = []
                if count and not needs_python:
                    self.batches.copy(cursor, after, high, count, chunks.append)
            conn.commit()
            return chunks
        except BaseException as exc:
            if not bound.done():
                bound.set_exception(exc)
            conn.rollback()
            raise

    def _write(self, chunks: Future[list[bytes]], after: Any, high: Any, count: int, needs_python: bool) -> None:
        data = chunks.result()
        if count and needs_python:
            _write_in_python(self.formatter, self.writer, self.batches.rows(after, high), self.batches.batch_size)
        elif count:
            for piece in data:
                self.writer.write_bytes(piece)
            self.batches.learn(count, sum(map(len, data)))
        data.clear()  # let the batch go before waiting for the next one (two batches in memory at most)
