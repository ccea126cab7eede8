"""ParquetFileWriter: the file appears only when complete, is private, typed, and its row groups are large."""

from __future__ import annotations

import hashlib
import os
import stat
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datapipeline.parquetfile import (
    ARROW_TYPES,
    ParquetFileWriter,
    UnknownLogicalType,
    copy_select_sql,
)
from datapipeline.properties import get_property
from exports.configuration import property_set

COLUMNS = [("id", "int64"), ("body", "string")]


def test_the_file_appears_under_its_name_only_on_commit(tmp_path: Path):
    path = tmp_path / "comments.parquet"
    with ParquetFileWriter(path, COLUMNS) as writer:
        writer.write_rows([(1, "a")])
        assert not path.exists()
        assert (tmp_path / ".comments.parquet.partial").exists()
        writer.commit()
    assert path.exists()
    assert not (tmp_path / ".comments.parquet.partial").exists()
    assert pq.read_table(path).to_pylist() == [{"id": 1, "body": "a"}]


def test_the_partial_file_is_removed_when_the_block_is_left_by_an_exception(tmp_path: Path):
    path = tmp_path / "comments.parquet"
    with pytest.raises(RuntimeError), ParquetFileWriter(path, COLUMNS) as writer:
        writer.write_rows([(1, "a")] * 10)
        raise RuntimeError("the database went away")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_value_fails_the_write_and_leaves_no_file(tmp_path: Path):
    path = tmp_path / "comments.parquet"
    with pytest.raises(pa.ArrowInvalid), ParquetFileWriter(path, COLUMNS) as writer:
        writer.write_rows([("not a number", "a")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("planted", ["file", "symlink", "partial symlink"])
def test_an_existing_file_or_symbolic_link_is_refused(tmp_path: Path, planted: str):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep me")
    partial = tmp_path / ".comments.parquet.partial"
    if planted == "file":
        partial.write_bytes(b"someone else's")
    else:
        partial.symlink_to(target)
    with pytest.raises(FileExistsError):
        ParquetFileWriter(tmp_path / "comments.parquet", COLUMNS)
    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "comments.parquet").exists()


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_file_has_the_requested_mode_whatever_the_umask(tmp_path: Path, mode: int):
    old = os.umask(0)
    try:
        with ParquetFileWriter(tmp_path / "a.parquet", COLUMNS, file_mode=mode) as writer:
            writer.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.parquet").stat().st_mode) == mode


def test_rows_bytes_and_sha256_describe_the_file(tmp_path: Path):
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, COLUMNS) as writer:
        writer.write_rows((i, f"row {i}") for i in range(1234))
        writer.write_copy_csv(b'5000,"from COPY"\n')
        writer.commit()
    data = path.read_bytes()
    assert writer.rows == 1235 == pq.ParquetFile(path).metadata.num_rows
    assert writer.bytes == len(data)
    assert writer.sha256 == hashlib.sha256(data).hexdigest()


def row_groups(path: Path) -> list[int]:
    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


@pytest.mark.parametrize("feed", ["rows", "copy"])
def test_row_groups_hold_at_least_100k_rows(tmp_path: Path, feed: str):
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, COLUMNS) as writer:
        if feed == "rows":
            for start in range(0, 250_000, 5_000):  # batches as the export reads them
                writer.write_rows((i, "x") for i in range(start, start + 5_000))
        else:
            data = b"".join(b"%d,x\n" % i for i in range(250_000))
            for start in range(0, len(data), 65_536):
                writer.write_copy_csv(data[start : start + 65_536])
        writer.commit()
    groups = row_groups(path)
    assert sum(groups) == 250_000
    assert all(n >= 100_000 for n in groups[:-1]), groups
    assert len(groups) == 3, groups
    assert pq.read_table(path).column("id").to_pylist() == list(range(250_000))


def test_a_small_file_is_one_row_group(tmp_path: Path):
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, COLUMNS) as writer:
        writer.write_rows([(1, "a"), (2, "b")])
        writer.commit()
    assert row_groups(path) == [2]


def test_an_empty_file_has_the_schema_and_no_rows(tmp_path: Path):
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, [("id", "int64"), ("labels", "list<string>")]) as writer:
        writer.commit()
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.field("labels").type == pa.list_(pa.string())


@pytest.mark.parametrize(("compression", "codec"), [(None, "ZSTD"), ("zstd", "ZSTD"), ("snappy", "SNAPPY")])
def test_compression_is_zstd_unless_snappy_is_chosen(tmp_path: Path, compression, codec):
    path = tmp_path / "a.parquet"
    options = {} if compression is None else {"compression": compression}
    with ParquetFileWriter(path, COLUMNS, **options) as writer:
        writer.write_rows([(1, "a")])
        writer.commit()
    metadata = pq.ParquetFile(path).metadata
    assert {metadata.row_group(0).column(i).compression for i in range(2)} == {codec}


def test_an_unknown_compression_or_type_is_refused_before_any_file_is_made(tmp_path: Path):
    with pytest.raises(ValueError, match="zstd, snappy"):
        ParquetFileWriter(tmp_path / "a.parquet", COLUMNS, compression="gzip")
    with pytest.raises(UnknownLogicalType, match="'decimal'"):
        ParquetFileWriter(tmp_path / "a.parquet", [("x", "decimal")])
    with pytest.raises(UnknownLogicalType):
        copy_select_sql("x", "decimal")
    assert list(tmp_path.iterdir()) == []


def test_every_logical_type_has_its_arrow_type():
    expected = {
        "int64": pa.int64(),
        "timestamp_us_utc": pa.timestamp("us", tz="UTC"),
        "boolean": pa.bool_(),
        "string": pa.string(),
        "list<string>": pa.list_(pa.field("item", pa.string())),
    }
    assert expected == ARROW_TYPES
    assert all(t.field(0).name == "item" for t in ARROW_TYPES.values() if pa.types.is_list(t))


def test_the_compression_property(db):
    name = "plugin.data.pipeline.parquet.compression"
    assert get_property(name) == "zstd"
    property_set(name=name, value="Snappy")
    assert get_property(name) == "snappy"
    with pytest.raises(ValueError, match="zstd or snappy"):
        property_set(name=name, value="gzip")


def test_memory_stays_flat_while_writing_a_million_rows(tmp_path: Path):
    """Arrow memory peaks at about one row group and Python's at one batch, never the whole file."""
    body = "comment body " * 8  # ~100 bytes: a million rows are ~130 MB as an Arrow table
    when = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    columns = [("id", "int64"), ("body", "string"), ("created", "timestamp_us_utc"), ("labels", "list<string>")]
    pool = pa.default_memory_pool()
    baseline = pool.bytes_allocated()
    arrow_peak = 0
    tracemalloc.start()
    try:
        with ParquetFileWriter(tmp_path / "a.parquet", columns) as writer:
            for start in range(0, 1_000_000, 5_000):
                writer.write_rows((i, body, when, ["a"]) for i in range(start, start + 5_000))
                arrow_peak = max(arrow_peak, pool.bytes_allocated() - baseline)
            writer.commit()
        _current, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert writer.rows == 1_000_000
    assert python_peak < 64 << 20, python_peak
    # A row group of 100,000 rows is ~13 MB of Arrow data (held until the next one is full).
    assert arrow_peak < 40 << 20, arrow_peak


def test_copy_data_split_anywhere_gives_the_same_rows(tmp_path: Path):
    data = b'1,"a ""quoted""\nline, with comma"\n2,""\n3,\n4,"\r\n\r\n"\n5,"tail without a line break"'
    expected = [
        {"id": 1, "body": 'a "quoted"\nline, with comma'},
        {"id": 2, "body": ""},
        {"id": 3, "body": None},
        {"id": 4, "body": "\r\n\r\n"},
        {"id": 5, "body": "tail without a line break"},
    ]
    for size in (1, 2, 3, 5, 7, 11, len(data)):
        path = tmp_path / f"split{size}.parquet"
        with ParquetFileWriter(path, COLUMNS) as writer:
            writer.copy_parse_bytes = 1  # every piece handed over as it comes
            for start in range(0, len(data), size):
                writer.write_copy_csv(data[start : start + size])
            writer.commit()
        assert pq.read_table(path).to_pylist() == expected, size


def test_copy_data_cut_inside_a_quoted_field_is_refused(tmp_path: Path):
    with (
        pytest.raises(ValueError, match="inside a quoted field"),
        ParquetFileWriter(tmp_path / "a.parquet", COLUMNS) as writer,
    ):
        writer.write_copy_csv(b'1,"unfinished\n')
        writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_bad_copy_data_fails_the_write_and_leaves_no_file(tmp_path: Path):
    # Parsed in the writer's thread: the error still reaches the caller, at the latest on commit.
    with pytest.raises(pa.ArrowInvalid, match="int64"), ParquetFileWriter(tmp_path / "a.parquet", COLUMNS) as writer:
        writer.write_copy_csv(b"1,ok\nnot a number,x\n")
        writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_copy_times_are_utc_without_offset_as_postgresql_prints_them(tmp_path: Path):
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, [("t", "timestamp_us_utc")]) as writer:
        writer.write_copy_csv(b"2026-03-29 01:00:00.000001\n2026-10-25 00:30:00\n\n")
        writer.commit()
    assert pq.read_table(path).column("t").to_pylist() == [
        datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        None,
    ]


@pytest.mark.postgres
def test_copy_select_sql_reads_labels_of_any_json_shape(tmp_path: Path):
    import psycopg

    from .hostile import postgres_dsn

    cases = {
        "NULL": None,
        "'null'": None,
        "'[]'": [],
        "'[\"\"]'": [""],
        '\'["a", "b\\u001f,\\"c", "\\u001f"]\'': ["a", 'b\x1f,"c', "\x1f"],
        "'\"stray\"'": ["stray"],
        "'[1.50, true, null]'": ["1.50", "true", ""],
    }
    select = " UNION ALL ".join(
        f"SELECT {n} AS n, {copy_select_sql(f'({value})::jsonb', 'list<string>')}" for n, value in enumerate(cases)
    )
    path = tmp_path / "labels.parquet"
    sql = f"COPY (SELECT * FROM ({select}) AS t ORDER BY n) TO STDOUT WITH (FORMAT csv)"  # noqa: S608
    with (
        psycopg.connect(postgres_dsn()) as connection,
        connection.cursor() as cursor,
        ParquetFileWriter(path, [("n", "int64"), ("labels", "list<string>")]) as writer,
    ):
        with cursor.copy(sql) as copy:
            for chunk in copy:
                writer.write_copy_csv(bytes(chunk))
        writer.commit()
    assert pq.read_table(path).column("labels").to_pylist() == list(cases.values())


def test_python_times_of_any_zone_are_stored_as_their_utc_instant(tmp_path: Path):
    st_johns = ZoneInfo("America/St_Johns")  # -03:30, -02:30 from 2026-03-08 (02:00 local)
    path = tmp_path / "a.parquet"
    with ParquetFileWriter(path, [("t", "timestamp_us_utc")]) as writer:
        writer.write_rows(
            [
                (datetime(2026, 3, 8, 1, 59, 59, 999_999, tzinfo=st_johns),),
                (datetime(2026, 3, 8, 3, 0, tzinfo=st_johns),),
            ]
        )
        writer.commit()
    assert pq.read_table(path).column("t").to_pylist() == [
        datetime(2026, 3, 8, 5, 29, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),
    ]
