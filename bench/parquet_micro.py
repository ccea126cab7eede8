"""Parquet writer micro-benchmark: ``python -m bench.parquet_micro [--rows N] [--dsn URL]``.

Fills a throwaway table ``parquet_micro_<pid>`` with synthetic comment-like rows, then writes
them three ways, each in a process of its own so each peak memory is its own:

- ``copy-parquet``: ``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`` into ``ParquetFileWriter.write_copy_csv``;
- ``rows-parquet``: Python rows from a server-side cursor (5,000 a batch) into ``ParquetFileWriter.write_rows``;
- ``copy-csv``: the same COPY as plain CSV into ``CsvFileWriter.write_bytes`` (the CSV export's fast path).

Prints rows/s, peak RSS, RSS growth over the process's baseline (after imports; it includes the
Arrow and Parquet libraries' code pages touched while writing), the Arrow memory pool's peak and
the file's size. Drops the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import pyarrow as pa

from datapipeline.csvfile import CsvFileWriter
from datapipeline.parquetfile import ParquetFileWriter, copy_select_sql

DEFAULT_DSN = "postgresql://root@127.0.0.1:5432/test"
TABLE_COLUMNS = {  # the throwaway table of comment-like rows: column -> logical type
    "comment_id": "int64",
    "comment_content": "string",
    "created_date": "timestamp_us_utc",
    "updated_date": "timestamp_us_utc",
    "resolved": "boolean",
    "labels": "list<string>",
    "creator_id": "string",
}
COLUMNS = list(TABLE_COLUMNS.items())
# The CSV export's form of the same columns: times to the millisecond with Z, labels as JSON text.
CSV_SELECT = {
    "int64": "{v}",
    "string": "{v}",
    "timestamp_us_utc": "to_char({v} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
    "boolean": "{v}",
    "list<string>": "NULLIF(replace({v}::text, '\", \"', '\",\"'), '[]')",
}
MODES = ("copy-parquet", "rows-parquet", "copy-csv")


def fill(dsn: str, table: str, rows: int) -> None:
    """Comment-like rows: bodies of 100-700 characters with quotes, commas and line breaks, 0-3 labels."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE {table} (comment_id bigint PRIMARY KEY, comment_content text, created_date timestamptz, "
            "updated_date timestamptz, resolved boolean, labels jsonb, creator_id text)"
        )
        connection.execute(
            f"INSERT INTO {table} SELECT i, "
            "repeat('Comment ' || i || ', with \"quotes\" and a line break' || chr(10), 1 + i %% 12), "
            "timestamptz '2024-01-01 00:00:00+00' + i * interval '7 seconds 123457 microseconds', "
            "CASE WHEN i %% 5 = 0 THEN NULL ELSE timestamptz '2025-06-01 00:00:00+00' + i * interval '1 second' END, "
            "CASE i %% 3 WHEN 0 THEN true WHEN 1 THEN false END, "
            "(SELECT coalesce(jsonb_agg('label-' || (i + k) %% 50), '[]'::jsonb) "
            "FROM generate_series(1, i %% 4) AS k), "
            "md5(i::text) FROM generate_series(1, %s) AS i",
            [rows],
        )
        connection.execute(f"ANALYZE {table}")


def copy_sql(table: str, select: dict[str, str] | None) -> str:
    if select is None:
        columns = ", ".join(copy_select_sql(name, logical) for name, logical in COLUMNS)
    else:
        columns = ", ".join(select[logical].format(v=name) for name, logical in COLUMNS)
    return f"COPY (SELECT {columns} FROM {table} ORDER BY comment_id) TO STDOUT WITH (FORMAT csv)"


def run_mode(mode: str, dsn: str, table: str, directory: Path) -> dict[str, float]:
    """One way of writing the table; runs in its own process (peak RSS is per process)."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        if mode == "copy-csv":
            writer = CsvFileWriter(directory / "comments.csv", [name for name, _ in COLUMNS])
            with writer, cursor.copy(copy_sql(table, CSV_SELECT)) as copy:
                while data := copy.read():
                    writer.write_bytes(bytes(data))
                writer.commit()
            writer.rows = cursor.rowcount  # COPY's row count: the CSV writer only counts rows it encodes
        elif mode == "copy-parquet":
            writer = ParquetFileWriter(directory / "comments.parquet", COLUMNS)
            with writer, cursor.copy(copy_sql(table, None)) as copy:
                while data := copy.read():
                    writer.write_copy_csv(data)
                writer.commit()
        else:
            writer = ParquetFileWriter(directory / "comments.parquet", COLUMNS)
            names = ", ".join(name for name, _ in COLUMNS)
            with writer, connection.cursor(name="parquet_micro") as rows:
                rows.itersize = 5_000
                rows.execute(f"SELECT {names} FROM {table} ORDER BY comment_id")
                while batch := rows.fetchmany(5_000):
                    writer.write_rows(batch)
                writer.commit()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "rows": writer.rows,
        "seconds": seconds,
        "rows_per_second": writer.rows / seconds,
        "peak_rss_mb": peak / 2**20,
        "rss_growth_mb": (peak - baseline) / 2**20,
        "file_mb": writer.bytes / 2**20,
        "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=os.environ.get("PARQUET_MICRO_DSN", DEFAULT_DSN))
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # a child process: one mode
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.dsn, args.table, Path(args.directory))))
        return
    table = f"parquet_micro_{os.getpid()}"
    print(f"Filling {table} with {args.rows:,} comment-like rows ...", flush=True)
    results = {}
    try:
        fill(args.dsn, table, args.rows)
        for mode in MODES:
            with tempfile.TemporaryDirectory(prefix="parquet-micro-") as directory:
                child = [sys.executable, "-m", "bench.parquet_micro", "--mode", mode, "--dsn", args.dsn]
                child += ["--table", table, "--directory", directory]
                output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
                results[mode] = json.loads(output.strip().splitlines()[-1])
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    print(
        f"{'mode':<14}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'peak RSS MB':>13}{'RSS growth MB':>15}"
        f"{'Arrow peak MB':>15}{'file MB':>9}"
    )
    for mode, r in results.items():
        print(
            f"{mode:<14}{r['rows']:>11,}{r['seconds']:>9.2f}{r['rows_per_second']:>11,.0f}"
            f"{r['peak_rss_mb']:>13.0f}{r['rss_growth_mb']:>15.0f}{r['arrow_peak_mb']:>15.0f}{r['file_mb']:>9.1f}"
        )
    csv = results["copy-csv"]
    for mode in ("copy-parquet", "rows-parquet"):
        r = results[mode]
        print(
            f"{mode}: {r['seconds'] / csv['seconds']:.2f}x the CSV time, "
            f"{r['file_mb'] / csv['file_mb']:.0%} of the CSV bytes"
        )


if __name__ == "__main__":
    main()
