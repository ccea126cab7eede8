"""The loader kit, run by the real readers, gives back every hostile value, typed, in both formats.

Parquet gives back the values exactly. CSV gives back what its dialect holds: times to the
millisecond, an empty text or list as null, line breaks escaped unless preserved.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import override_settings
from pandas.api.types import pandas_dtype

from datapipeline.loaders import READER_TYPES
from datapipeline.parquetfile import ARROW_TYPES

from .hostile import DATASETS, Export, expected_rows, postgres_dsn, write_job

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

PARQUET = [Export("parquet", feed="rows"), Export("parquet", feed="copy"), Export("parquet", compression="snappy")]
CSV = [Export("csv", preserve=True), Export("csv", preserve=False), Export("csv", version=1, preserve=True)]


class Jobs:
    """Every export of the hostile rows, each in its own job directory with its loaders/, written when first used."""

    def __init__(self, root: Path):
        self.root = root
        self.written: dict[str, Path] = {}

    def __getitem__(self, how: Export) -> Path:
        if how.id not in self.written:
            dsn = postgres_dsn() if how.feed == "copy" else None  # skips only the COPY feed's tests
            # Version 1 writes local times with their offset: a zone with a half-hour offset and DST.
            with override_settings(TIME_ZONE="America/St_Johns"):
                self.written[how.id] = write_job(self.root / how.id, how, dsn)
        return self.written[how.id]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> Jobs:
    return Jobs(tmp_path_factory.mktemp("jobs"))


def job(jobs: Jobs, how: Export) -> Path:
    return jobs[how]


def plain(value: Any) -> Any:
    """A reader's value as plain Python: None for any null, aware UTC datetimes, lists, ints, bools."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        # Spark hands out naive times in the Python process's local zone; DuckDB and pandas aware ones.
        return value.astimezone(UTC)
    if isinstance(value, np.ndarray | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def assert_same(dataset: str, rows: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    columns = [name for name, _ in DATASETS[dataset][0]]
    assert len(rows) == len(expected), (dataset, len(rows), len(expected))
    for name in columns:  # column by column, so a failure names the column
        got = [plain(row[name]) for row in rows]
        want = [row[name] for row in expected]
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g == w and type(g) is type(w), (dataset, name, i, str(g)[:200], str(w)[:200])


# DuckDB


@pytest.mark.parametrize("how", PARQUET + CSV, ids=lambda h: h.id)
def test_duckdb_sql_run_from_the_job_directory(jobs, how, monkeypatch):
    import duckdb

    monkeypatch.chdir(job(jobs, how))
    with duckdb.connect() as con:
        con.execute((Path("loaders") / "duckdb.sql").read_text())
        for dataset, (columns, _rows) in DATASETS.items():
            described = con.execute(f'DESCRIBE "{dataset}"').fetchall()
            assert [(c[0], c[1]) for c in described] == [(n, READER_TYPES[t]["duckdb"]) for n, t in columns]
            relation = con.table(dataset)
            rows = [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]
            assert_same(dataset, rows, expected_rows(dataset, how))


# pandas


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"loader_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("how", PARQUET + CSV, ids=lambda h: h.id)
def test_pandas_py_gives_explicit_dtypes_and_the_values(jobs, how):
    frames = load_module(job(jobs, how) / "loaders" / "pandas.py").load()
    assert sorted(frames) == sorted(DATASETS)
    for dataset, (columns, _rows) in DATASETS.items():
        frame = frames[dataset]
        assert {n: str(frame[n].dtype) for n, _ in columns} == {
            n: str(pandas_dtype(READER_TYPES[t]["pandas"])) for n, t in columns
        }
        assert_same(dataset, frame.to_dict(orient="records"), expected_rows(dataset, how))


# pyarrow


@pytest.mark.parametrize("how", PARQUET, ids=lambda h: h.id)
def test_pyarrow_reads_the_exact_types_codec_and_values(jobs, how):
    for dataset, (columns, _rows) in DATASETS.items():
        path = job(jobs, how) / how.file_name(dataset)
        table = pq.read_table(path)
        for name, logical in columns:
            field = table.schema.field(name)
            assert field.type == ARROW_TYPES[logical], (name, field.type)
            assert str(field.type) in {"int64", "timestamp[us, tz=UTC]", "bool", "string", "list<element: string>"}
        assert not any(pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type) for f in table.schema)
        metadata = pq.ParquetFile(path).metadata
        assert metadata.num_row_groups == 1
        codecs = {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)}
        assert codecs == {how.compression.upper()}
        assert_same(dataset, table.to_pylist(), expected_rows(dataset, how))


def test_the_copy_feed_writes_the_same_table_as_python_rows(jobs):
    rows, copy = Export("parquet", feed="rows"), Export("parquet", feed="copy")
    for dataset in DATASETS:
        from_rows = pq.read_table(job(jobs, rows) / rows.file_name(dataset))
        from_copy = pq.read_table(job(jobs, copy) / copy.file_name(dataset))
        assert from_copy.equals(from_rows), dataset


# Spark


def spark_rows(frame) -> list[dict[str, Any]]:
    return [row.asDict() for row in frame.collect()]  # one small file: rows in file order


SPARK_TYPES = {
    "int64": "LongType()",
    "timestamp_us_utc": "TimestampType()",
    "boolean": "BooleanType()",
    "string": "StringType()",
    "list<string>": "ArrayType(StringType(), True)",
}


@pytest.mark.integration
@pytest.mark.parametrize("how", PARQUET + CSV, ids=lambda h: h.id)
def test_spark_py_reads_both_formats_with_explicit_schemas(jobs, how, spark_session):
    frames = load_module(job(jobs, how) / "loaders" / "spark.py").load(spark_session)
    assert sorted(frames) == sorted(DATASETS)
    for dataset, (columns, _rows) in DATASETS.items():
        frame = frames[dataset]
        assert [(f.name, repr(f.dataType)) for f in frame.schema.fields] == [(n, SPARK_TYPES[t]) for n, t in columns]
        # Spark's CSV reader turns a CRLF inside a quoted value into LF (the kit says so).
        expected = expected_rows(dataset, how, crlf_as_lf=how.format == "csv")
        assert_same(dataset, spark_rows(frame), expected)


# Hive (through Spark's Hive support)


def run_hive_sql(spark, how: Export, job_dir: Path, tmp_path: Path) -> None:
    """Each dataset's file in a directory of its own, the LOCATION filled in, the statements run in a fresh database."""
    sql = (job_dir / "loaders" / "hive.sql").read_text()
    for dataset in DATASETS:
        location = tmp_path / dataset
        location.mkdir()
        shutil.copy(job_dir / how.file_name(dataset), location)
        sql = sql.replace(f"<fill in: the directory of {how.file_name(dataset)}>", location.as_uri())
    assert "<fill in" not in sql
    database = f"hive_{how.id.replace('-', '_')}"
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    spark.sql(f"CREATE DATABASE {database}")
    spark.sql(f"USE {database}")
    for statement in (s for s in sql.split(";\n") if s.strip()):
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        if lines:
            spark.sql("\n".join(lines))


HIVE_CSV_TYPES = {
    "int64": "LongType()",
    "timestamp_us_utc": "TimestampType()",
    "boolean": "BooleanType()",
    "string": "StringType()",
    "list<string>": "StringType()",  # JSON text: OpenCSVSerde has no arrays
}


@pytest.mark.integration
@pytest.mark.parametrize("how", [*PARQUET[:1], PARQUET[2], Export("csv", preserve=False)], ids=lambda h: h.id)
def test_hive_sql_through_spark_hive_support(jobs, how, spark_session, tmp_path):
    if spark_session.conf.get("spark.sql.catalogImplementation") != "hive":
        pytest.skip(
            "This process's Spark session has no Hive support: one without it was started first (the catalog is "
            "fixed when the JVM's first session starts); run tests/parquet in a process of its own"
        )
    run_hive_sql(spark_session, how, job(jobs, how), tmp_path)
    for dataset, (columns, _rows) in DATASETS.items():
        frame = spark_session.table(f"`{dataset}`")
        types = SPARK_TYPES if how.format == "parquet" else HIVE_CSV_TYPES
        assert [(f.name, repr(f.dataType)) for f in frame.schema.fields] == [(n, types[t]) for n, t in columns]
        expected = expected_rows(dataset, how)
        if how.format == "csv":  # label lists stay JSON text in the Hive CSV view
            for row in expected:
                for name, logical in columns:
                    if logical == "list<string>" and row[name] is not None:
                        row[name] = json.dumps(row[name], ensure_ascii=False, separators=(",", ":"))
        assert_same(dataset, spark_rows(frame), expected)


# Power BI cannot run here: the M script's names and types are checked.


@pytest.mark.parametrize("how", [PARQUET[0], CSV[0]], ids=lambda h: h.id)
def test_powerbi_pq_names_every_column_with_its_m_type(jobs, how):
    text = (job(jobs, how) / "loaders" / "powerbi.pq").read_text()
    assert text.count("shared #") == len(DATASETS)
    document = "Parquet.Document" if how.format == "parquet" else "Csv.Document"
    assert text.count(document) == len(DATASETS)
    for dataset, (columns, _rows) in DATASETS.items():
        query = text[text.index(f'shared #"{dataset}" = let') :].split("\nin\n")[0]
        assert f'JobDirectory & "{how.file_name(dataset)}"' in query
        for name, logical in columns:
            if how.format == "csv" and logical == "list<string>":
                assert f'{{"{name}", each if _ = null then null else Json.Document(_), type list}}' in query
            else:
                assert f'{{"{name}", {READER_TYPES[logical]["m"]}}}' in query
    if how.format == "csv":
        assert "QuoteStyle = QuoteStyle.Csv" in text
        assert text.count('Table.ReplaceValue(Promoted, "", null') == len(DATASETS)  # an empty field is null
        assert "Encoding = 65001" in text
