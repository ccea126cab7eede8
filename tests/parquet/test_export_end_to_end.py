"""Real exports of a hostile site, in both formats, through the job path, loaded by the generated loaders.

The site is the engine tests' nasty site plus a page with a 1 MB body, times on both sides of DST
changes and odd label lists. Each reader's typed values are compared with the database column by
column: the Parquet files exactly; the CSV files (line breaks preserved) as the dialect holds them
(times to the millisecond, an empty text or list as null).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings as django_settings

from datapipeline.formatting import Dialect, RowFormatter
from datapipeline.parquetfile import ARROW_TYPES, arrow_schema
from datapipeline.registry import datasets
from tests.engine.sitedata import build_nasty_site
from wiki.models import Comment, Content, Space

from .hostile import BIG_TEXT, DST
from .test_loader_kit_readers import load_module, plain

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]
VERSION = 2


@pytest.fixture
def hostile_site(db):
    site = build_nasty_site()
    space = Space.objects.get(key="ENG")
    for i, (created, updated) in enumerate(zip(DST[::2], DST[1::2], strict=True)):
        Content.objects.create(
            space=space,
            title=f"DST {i}: tab\there\\back\r\nCRLF 🎉",
            body=BIG_TEXT if i == 0 else f"line\rCR\nLF\r\nCRLF {i}",
            labels=[["a", "b", "c", "", "ü 🎉"], [], ["one"]][i],
            created=created,
            updated=max(updated, created),
        )
    home = Content.objects.filter(space=space).order_by("pk").first()
    Comment.objects.create(content=home, body='"quoted", \\n not a break\r\n\t🎉', created=DST[0], updated=DST[3])
    return site


def database_table(dataset: Any, job: Any) -> pa.Table:
    """The dataset's rows as the database holds them, typed (the kinds' typed Python forms), in key order."""
    formatter = RowFormatter(dataset, VERSION, Dialect(), django_settings.INSTANCE_URL, typed=True)
    rows = dataset.queryset(job.export_from, {}).order_by("pk").values_list(*formatter.sources)
    typed = [formatter.format(row) for row in rows]
    schema = arrow_schema(dataset.typed_columns(VERSION))
    return pa.table({f.name: pa.array([r[i] for r in typed], f.type) for i, f in enumerate(schema)}, schema=schema)


def as_csv_holds(value: Any, logical: str) -> Any:
    """A database value as the CSV (line breaks preserved) gives it back typed."""
    if value is None:
        return None
    if logical == "timestamp_us_utc":
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if logical in ("string", "list<string>") and not value:
        return None
    return value


def export(run_job_fixture, file_format: str, **properties: str) -> tuple[Any, Path]:
    django_settings.DATAPIPELINE_PROPERTIES = {
        **getattr(django_settings, "DATAPIPELINE_PROPERTIES", {}),
        "plugin.data.pipeline.embedded.line.break.preserve": "true",
        **properties,
    }
    job, directory = run_job_fixture(file_format=file_format, schema_version=VERSION, from_date="2026-01-01T00:00:00Z")
    assert job.status == "COMPLETED", job.errors
    return job, directory


def assert_columns(name: str, got: list[dict[str, Any]], want: pa.Table, *, csv: bool) -> None:
    """Column by column, typed: a failure names the dataset, the column and the row."""
    assert len(got) == want.num_rows, (name, len(got), want.num_rows)
    types = dict(next(d for d in datasets() if d.name == name).typed_columns(VERSION))
    for column in want.column_names:
        expected = want.column(column).to_pylist()
        for i, (g, w) in enumerate(zip((plain(r[column]) for r in got), expected, strict=True)):
            w = as_csv_holds(w, types[column]) if csv else w
            assert g == w and type(g) is type(w), (name, column, i, str(g)[:120], str(w)[:120])


def test_the_parquet_export_is_the_database_exactly_with_the_registry_types(hostile_site, run_job):
    job, directory = export(run_job, "parquet")
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["job"]["config"]["format"] == "parquet"
    listed = {f["entity"]: f for f in manifest["files"]}
    assert {x["file"] for x in manifest["loaders"]} == {f"loaders/{n}" for n in READER_LOADERS}
    for dataset in datasets():
        entry = listed[dataset.name]
        assert entry["file"].endswith(".parquet") and entry["file"].startswith(f"{dataset.name}_job{job.pk}_v2_")
        path = directory / entry["file"]
        assert entry["bytes"] == path.stat().st_size
        table = pq.read_table(path)
        assert table.num_rows == entry["rows"]
        for name, logical in dataset.typed_columns(VERSION):
            assert table.schema.field(name).type == ARROW_TYPES[logical], (dataset.name, name)
        metadata = pq.ParquetFile(path).metadata
        assert metadata.row_group(0).column(0).compression == "ZSTD"
        assert table.equals(database_table(dataset, job)), dataset.name
    pages = pq.read_table(next(directory.glob("pages_*.parquet"))).to_pylist()
    assert any(p["page_content"] == BIG_TEXT for p in pages)  # 1 MB, exact: no escaping, no truncation
    assert [] in [p["labels"] for p in pages] and ["a", "b", "c", "", "ü 🎉"] in [p["labels"] for p in pages]


READER_LOADERS = ("duckdb.sql", "spark.py", "hive.sql", "pandas.py", "powerbi.pq")


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_duckdb_and_pandas_loaders_give_back_the_database(hostile_site, run_job, file_format, monkeypatch):
    import duckdb

    job, directory = export(run_job, file_format)
    assert sorted(p.name for p in (directory / "loaders").iterdir()) == sorted(READER_LOADERS)
    frames = load_module(directory / "loaders" / "pandas.py").load()
    monkeypatch.chdir(directory)
    with duckdb.connect() as con:
        con.execute(Path("loaders/duckdb.sql").read_text())
        for dataset in datasets():
            want = database_table(dataset, job).sort_by(dataset.key)
            relation = con.table(dataset.name)
            rows = [dict(zip(relation.columns, r, strict=True)) for r in relation.order(dataset.key).fetchall()]
            assert_columns(dataset.name, rows, want, csv=file_format == "csv")
            frame = frames[dataset.name].sort_values(dataset.key, kind="stable")
            assert_columns(dataset.name, frame.to_dict(orient="records"), want, csv=file_format == "csv")


@pytest.mark.integration
@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_spark_and_hive_loaders_give_back_the_database(hostile_site, run_job, file_format, spark_session, tmp_path):
    from .test_loader_kit_readers import spark_rows

    job, directory = export(run_job, file_format)
    frames = load_module(directory / "loaders" / "spark.py").load(spark_session)
    for dataset in datasets():
        want = database_table(dataset, job).sort_by(dataset.key)
        got = spark_rows(frames[dataset.name].orderBy(dataset.key))
        if file_format == "csv":  # Spark's CSV reader gives an embedded CRLF back as LF (the kit says so)
            want = pa.table(
                {
                    c: [v.replace("\r\n", "\n") if isinstance(v, str) else v for v in want.column(c).to_pylist()]
                    for c in want.column_names
                },
                schema=want.schema,
            )
        assert_columns(dataset.name, got, want, csv=file_format == "csv")
    if file_format == "parquet":  # spark.read.parquet with no options at all
        pages = next(directory.glob("pages_*.parquet"))
        direct = spark_rows(spark_session.read.parquet(str(pages)).orderBy("page_id"))
        pages_dataset = next(d for d in datasets() if d.name == "pages")
        assert_columns("pages", direct, database_table(pages_dataset, job).sort_by("page_id"), csv=False)
    if file_format == "parquet" and spark_session.conf.get("spark.sql.catalogImplementation") == "hive":
        sql = (directory / "loaders" / "hive.sql").read_text()
        for dataset in datasets():
            location = tmp_path / dataset.name
            location.mkdir()
            source = next(directory.glob(f"{dataset.name}_job*.parquet"))
            (location / source.name).write_bytes(source.read_bytes())
            sql = sql.replace(f"<fill in: the directory of {source.name}>", location.as_uri())
        spark_session.sql("DROP DATABASE IF EXISTS e2e CASCADE")
        spark_session.sql("CREATE DATABASE e2e")
        spark_session.sql("USE e2e")
        for statement in (s for s in sql.split(";\n") if s.strip()):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if lines:
                spark_session.sql("\n".join(lines))
        for dataset in datasets():
            got = spark_rows(spark_session.table(f"`{dataset.name}`").orderBy(dataset.key))
            assert_columns(dataset.name, got, database_table(dataset, job).sort_by(dataset.key), csv=False)


def test_the_copy_path_and_python_rows_write_the_same_arrow_tables(hostile_site, run_job, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path needs PostgreSQL (DATABASE_URL)")
    _job, by_copy = export(run_job, "parquet")
    settings.DATAPIPELINE_PG_COPY = False
    _job, by_python = export(run_job, "parquet")
    for dataset in datasets():
        copied = pq.read_table(next(by_copy.glob(f"{dataset.name}_job*.parquet")))
        python = pq.read_table(next(by_python.glob(f"{dataset.name}_job*.parquet")))
        assert copied.equals(python), dataset.name


def test_a_row_group_holds_100000_rows_however_wide_the_rows(tmp_path):
    from datapipeline import native
    from datapipeline.parquetfile import ParquetFileWriter

    assert native.available(), native.unavailable_reason()  # make install builds it
    with ParquetFileWriter(tmp_path / "narrow.parquet", [("n", "int64")]) as writer:
        writer.write_rows([i] for i in range(250_000))
        writer.commit()
    sizes = [pq.ParquetFile(tmp_path / "narrow.parquet").metadata.row_group(i).num_rows for i in range(3)]
    assert sizes == [100_000, 100_000, 50_000]
    # 120,000 rows of 2 KB arrive in batches of 5,000 (240 MB of text): still 100,000-row groups.
    with ParquetFileWriter(tmp_path / "wide.parquet", [("id", "int64"), ("t", "string")], row_group_bytes=1 << 20) as w:
        assert w.streaming
        for start in range(0, 120_000, 5_000):
            w.write_rows([i, f"{i:08d}" * 256] for i in range(start, start + 5_000))
        w.commit()
    wide = pq.ParquetFile(tmp_path / "wide.parquet")
    assert [wide.metadata.row_group(i).num_rows for i in range(wide.metadata.num_row_groups)] == [100_000, 20_000]
    table = wide.read()
    assert table.column("id").to_pylist() == list(range(120_000))
    assert table.column("t")[119_999].as_py() == "00119999" * 256


def test_without_the_native_writer_row_groups_are_bounded_by_bytes(tmp_path, monkeypatch):
    """An installation that could not build ``datapipeline.native`` (no compiler) still writes Parquet."""
    from datapipeline import native
    from datapipeline.parquetfile import ParquetFileWriter

    monkeypatch.setattr(native, "LIBRARY", tmp_path / "not-built.so")
    native.load.cache_clear()
    try:
        assert "not built" in native.unavailable_reason()
        with ParquetFileWriter(tmp_path / "wide.parquet", [("t", "string")], row_group_bytes=1 << 20) as writer:
            assert not writer.streaming
            for _ in range(25):  # batches as they arrive
                writer.write_rows([["x" * 100_000]])
            writer.commit()
        metadata = pq.ParquetFile(tmp_path / "wide.parquet").metadata
        assert metadata.num_rows == 25 and metadata.num_row_groups > 1
        assert writer.bytes == (tmp_path / "wide.parquet").stat().st_size
    finally:
        monkeypatch.undo()
        native.load.cache_clear()


def test_a_native_writer_that_cannot_start_says_why(tmp_path):
    """Its temporary files go in the given directory (the job's); when they cannot be made the error names
    it, and the descriptor it was handed is closed."""
    import pyarrow as pa

    from datapipeline import native

    assert native.available(), native.unavailable_reason()
    fd = os.open(tmp_path / "a.parquet", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    missing = tmp_path / "gone"
    with pytest.raises(native.NativeWriterError, match=f"cannot create a temporary file in {missing}"):
        native.StreamingParquetWriter(fd, pa.schema([("n", pa.int64())]), compression="zstd",
                                      row_group_rows=10, spill_dir=missing)  # fmt: skip
    with pytest.raises(OSError):  # the writer closed the descriptor it was given
        os.fstat(fd)


def test_the_native_writer_status_command(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "datapipeline.native", "status"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("streaming Parquet writer: ready (_dpq-pyarrow")
    from datapipeline import native

    library = native.LIBRARY
    built = library.stat().st_mtime_ns
    done = subprocess.run([sys.executable, "-m", "datapipeline.native", "ensure"], capture_output=True, text=True)
    assert done.returncode == 0 and "ready" in done.stdout, done.stderr
    assert library.stat().st_mtime_ns == built  # there and up to date: not built again
