"""Hostile rows of every column type, written as the export writes them (CSV, Parquet), and what readers give back."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from datapipeline.csvfile import CsvFileWriter
from datapipeline.formatting import escape_line_breaks, format_json_array, format_utc, make_local_formatter
from datapipeline.loaders import LoaderKit, kit_for, write_loader_files
from datapipeline.parquetfile import ParquetFileWriter, copy_select_sql

COMMENTS = [
    ("comment_id", "int64"),
    ("comment_content", "string"),
    ("created_date", "timestamp_us_utc"),
    ("updated_date", "timestamp_us_utc"),
    ("resolved", "boolean"),
    ("labels", "list<string>"),
]
EVENTS = [("event_id", "int64"), ("event_name", "string"), ("created_date", "timestamp_us_utc")]

BIG_TEXT = ('1 MB: "quoted", commas, \\backslashes\\, tabs\t, CRLF\r\nLF\nCR\r, emoji 🎉 ' * 13_000)[: 1 << 20]
# Europe/Berlin springs forward at 01:00 UTC on 2026-03-29 and falls back at 01:00 UTC on 2026-10-25;
# America/St_Johns (offset -03:30 / -02:30) changes at 05:30 UTC on 2026-03-08.
DST = [
    datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 0, 123_456, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 30, 0, 654_321, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 29, 59, 999_000, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 30, 0, 500, tzinfo=UTC),
]
TEXTS = [
    'He said "hi", then left',
    "CR\ronly, LF\nonly, CRLF\r\nboth, and \n\r reversed",
    'C:\\path\\n is not a line break \\" \\\\',
    "tab\there, emoji 🎉 👩\u200d💻, accents ünïcödé, CJK 漢字",
    BIG_TEXT,
    "",
    None,
    "  leading and trailing spaces  ",
    '"',
    "\r\n",
    "NULL",
    "a,b,c",
]
LABELS = [[], ["one"], ["a", "b,c", 'q"uote', "ünï 🎉", "back\\slash"], [""], None, ["", ""]]
BOOLEANS = [True, False, None]
INTEGERS = [2**63 - 1, -(2**63), 0, -1, 2**53 + 1]


def comment_rows() -> list[tuple[Any, ...]]:
    rows = []
    for i, text in enumerate(TEXTS):
        rows.append(
            (
                INTEGERS[i] if i < len(INTEGERS) else i,
                text,
                DST[i % len(DST)],
                None if i % 4 == 3 else DST[(i + 1) % len(DST)] + timedelta(days=i),
                BOOLEANS[i % len(BOOLEANS)],
                LABELS[i % len(LABELS)],
            )
        )
    rows.append((None, None, None, None, None, None))
    return rows


def event_rows() -> list[tuple[Any, ...]]:
    return [(1, "page_viewed", DST[0]), (2, "comment,created\n", DST[1]), (3, None, None)]


DATASETS = {"comments": (COMMENTS, comment_rows), "page_events": (EVENTS, event_rows)}


@dataclass(frozen=True)
class Export:
    """How a job's files are written: CSV (version, line breaks) or Parquet (feed, compression)."""

    format: str
    version: int = 2
    preserve: bool = True
    feed: str = "rows"  # parquet: rows | copy
    compression: str = "zstd"

    @property
    def id(self) -> str:
        if self.format == "csv":
            return f"csv-v{self.version}-{'preserved' if self.preserve else 'escaped'}"
        return f"parquet-{self.feed}-{self.compression}"

    def file_name(self, dataset: str) -> str:
        return f"{dataset}_job7_v{self.version}_20260131T120000Z.{self.format}"

    def kit(self) -> LoaderKit:
        return kit_for(
            file_format=self.format,
            schema_version=self.version,
            datasets=[(name, self.file_name(name), columns) for name, (columns, _rows) in DATASETS.items()],
            preserve_line_breaks=self.preserve,
        )


def csv_field(value: Any, logical: str, how: Export, local: Callable[[datetime | None], str | None]) -> Any:
    """A value as the export's CSV has it (datapipeline.formatting)."""
    if value is None:
        return None
    if logical == "timestamp_us_utc":
        return format_utc(value) if how.version >= 2 else local(value)
    if logical == "list<string>":
        return format_json_array(value)
    if logical == "boolean":
        return "true" if value else "false"
    if logical == "string" and not how.preserve:
        return escape_line_breaks(value, "\\n")
    return value


def write_job(directory: Path, how: Export, dsn: str | None = None) -> Path:
    directory.mkdir()
    for name, (columns, rows) in DATASETS.items():
        path = directory / how.file_name(name)
        if how.format == "csv":
            local = make_local_formatter()
            with CsvFileWriter(path, [c for c, _ in columns]) as writer:
                writer.write_rows(
                    [csv_field(v, t, how, local) for v, (_c, t) in zip(row, columns, strict=True)] for row in rows()
                )
                writer.commit()
        else:
            with ParquetFileWriter(path, columns, compression=how.compression) as writer:
                if how.feed == "rows":
                    writer.write_rows(rows())
                else:
                    for chunk in copy_csv(dsn, columns, rows()):
                        writer.write_copy_csv(chunk)
                writer.commit()
    write_loader_files(directory, how.kit())
    return directory


PG_TYPES = {
    "int64": "bigint",
    "string": "text",
    "timestamp_us_utc": "timestamptz",
    "boolean": "boolean",
    "list<string>": "jsonb",
}


def postgres_dsn() -> str:
    """PostgreSQL for the COPY feed: DATABASE_URL when it is PostgreSQL, else the local server."""
    url = os.environ.get("DATABASE_URL", "")
    dsn = url if url.startswith(("postgres://", "postgresql://")) else "postgresql://root@127.0.0.1:5432/test"
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"The COPY feed needs PostgreSQL at {dsn}: {exc}")
    return dsn


def copy_csv(dsn: str | None, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]):
    """The rows through PostgreSQL: a temporary table, then COPY (SELECT ...) TO STDOUT in CSV, in pieces."""
    from psycopg.types.json import Jsonb

    assert dsn is not None
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        definition = ", ".join(f"{name} {PG_TYPES[logical]}" for name, logical in columns)
        cursor.execute(f"CREATE TEMPORARY TABLE hostile (n serial, {definition})")
        names = ", ".join(name for name, _ in columns)
        marks = ", ".join(["%s"] * len(columns))
        values = [
            [
                Jsonb(v) if logical == "list<string>" and v is not None else v
                for v, (_n, logical) in zip(row, columns, strict=True)
            ]
            for row in rows
        ]
        cursor.executemany(f"INSERT INTO hostile ({names}) VALUES ({marks})", values)  # noqa: S608 - our column names
        select = ", ".join(copy_select_sql(name, logical) for name, logical in columns)
        copy_sql = f"COPY (SELECT {select} FROM hostile ORDER BY n) TO STDOUT WITH (FORMAT csv)"  # noqa: S608
        with cursor.copy(copy_sql) as copy:
            chunks = [bytes(chunk) for chunk in copy]
    # Cut the stream into small uneven pieces too, so records span pieces.
    data = b"".join(chunks)
    return [data[i : i + 4093] for i in range(0, len(data), 4093)]


def expected_rows(dataset: str, how: Export, *, crlf_as_lf: bool = False) -> list[dict[str, Any]]:
    """What a typed reader must give back: Parquet exactly; CSV as its dialect holds the values."""
    columns, rows = DATASETS[dataset]
    result = []
    for row in rows():
        record = {}
        for value, (name, logical) in zip(row, columns, strict=True):
            if how.format == "csv":
                value = csv_value(value, logical, how)
                if crlf_as_lf and isinstance(value, str):
                    value = value.replace("\r\n", "\n")
            record[name] = value
        result.append(record)
    return result


def csv_value(value: Any, logical: str, how: Export) -> Any:
    if value is None:
        return None
    if logical == "timestamp_us_utc":  # milliseconds, truncated
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if logical in ("string", "list<string>") and not value:
        return None  # an empty field is null
    if logical == "string" and not how.preserve:
        return escape_line_breaks(value, "\\n")
    return value
