"""The files load with Python's csv, pandas, DuckDB and Spark (the reference's options) and give back the database.

Every value of the nasty site is compared, for schema versions 1 and 2, with line breaks escaped
(the default) and preserved.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.engine.oracle import ENTITY_NAMES, Expectation, compare
from tests.engine.sitedata import FROM_DATE

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

CASES = [
    pytest.param(Expectation(version=2), id="v2-escaped"),
    pytest.param(Expectation(version=1), id="v1-escaped"),
    pytest.param(Expectation(version=2, preserve=True), id="v2-preserved"),
    pytest.param(Expectation(version=1, preserve=True), id="v1-preserved"),
]


def read_python_csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


def read_pandas(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(frame.columns), frame.to_dict(orient="records")


def read_duckdb(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    import duckdb

    with duckdb.connect() as con:
        relation = con.read_csv(str(path), header=True, all_varchar=True, quotechar='"', escapechar='"')
        header = relation.columns
        return header, [dict(zip(header, row, strict=True)) for row in relation.fetchall()]


READERS = {"csv": read_python_csv, "pandas": read_pandas, "duckdb": read_duckdb}


def export(run_job, settings, how: Expectation) -> dict[str, Path]:
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.embedded.line.break.preserve": str(how.preserve).lower(),
    }
    if how.version == 1:
        settings.TIME_ZONE = "America/St_Johns"  # an offset of -03:30 / -02:30 shows the v1 zone handling
    job, directory = run_job(schema_version=how.version)
    assert job.status == "COMPLETED", job.errors
    files = {p.name.split("_job")[0]: p for p in directory.glob("*.csv")}
    assert sorted(files) == sorted(ENTITY_NAMES)
    return files


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("how", CASES)
def test_readers_give_back_the_database(nasty_site, run_job, settings, how, reader):
    files = export(run_job, settings, how)
    for entity in ENTITY_NAMES:
        header, rows = READERS[reader](files[entity])
        compare(entity, header, rows, how, from_date=FROM_DATE)


@pytest.fixture(scope="session")
def spark(spark_session):
    return spark_session


def read_spark(spark, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    # Exactly the options of the reference text (confluence-data-pipeline.txt, "Spark / Databricks").
    frame = (
        spark.read.format("csv")
        .option("inferSchema", "true")
        .option("header", "true")
        .option("multiLine", "true")
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .load(str(path))
    )
    return frame.columns, [row.asDict() for row in frame.collect()]  # one small file: rows in file order


@pytest.mark.parametrize("how", CASES)
def test_spark_reads_the_files_with_the_reference_options(nasty_site, run_job, settings, spark, how):
    files = export(run_job, settings, how)
    if how.preserve:
        how = dataclasses.replace(how, crlf_read_as_lf=True)
    for entity in ENTITY_NAMES:
        header, rows = read_spark(spark, files[entity])
        compare(entity, header, rows, how, from_date=FROM_DATE)
