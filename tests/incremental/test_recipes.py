"""docs/incremental.md's pandas, DuckDB and Spark SQL recipes, run as written on real export files (a full export and
a chain of incremental ones), give what a full export taken afterwards holds."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.engine.test_engine_readers import spark  # noqa: F401 - the session's Spark fixture
from tests.incremental.sitegen import KEYS, SiteChanges

DOC = Path(__file__).resolve().parents[2] / "docs" / "incremental.md"


def recipes() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    namespace: dict[str, object] = {}
    for name in ("pandas", "duckdb", "spark"):
        code = re.search(rf"<!-- recipe: {name} -->\n```python\n(.*?)```", text, re.S).group(1)
        exec(compile(code, f"docs/incremental.md ({name})", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def canonical(frame: pd.DataFrame, key: str) -> list[tuple]:
    frame = frame.fillna("").astype(str)
    return sorted(map(tuple, frame.sort_values(key).to_numpy().tolist()))


def job_chain(run_job, *, seed: int) -> tuple[list[Path], Path]:
    """A full export and four incremental ones over random changes, then a full export to compare with."""
    site = SiteChanges(seed)
    site.build()
    dirs = [run_job()[1]]
    for _ in range(4):
        site.round(10)
        dirs.append(run_job(mode="INCREMENTAL")[1])
    return dirs, run_job()[1]


@pytest.mark.django_db
def test_recipes_apply_a_sequence_of_jobs(run_job):
    dirs, full_dir = job_chain(run_job, seed=11)
    code = recipes()
    con = duckdb.connect()
    for entity, key in KEYS.items():
        expected = code["load_pandas"]([full_dir], entity, key)
        assert canonical(code["load_pandas"](dirs, entity, key), key) == canonical(expected, key)
        code["load_duckdb"](con, dirs, entity, key)
        loaded = con.execute(f"SELECT * FROM {entity}").df()  # noqa: S608
        assert list(loaded.columns) == list(expected.columns)
        assert canonical(loaded, key) == canonical(expected, key)


@pytest.mark.integration
@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_sql_recipe_applies_a_sequence_of_jobs(run_job, spark):  # noqa: F811 - the fixture
    dirs, full_dir = job_chain(run_job, seed=13)
    code = recipes()
    for entity, key in KEYS.items():
        expected = code["load_pandas"]([full_dir], entity, key)
        loaded = code["load_spark"](spark, dirs, entity, key).toPandas()
        assert list(loaded.columns) == list(expected.columns)
        # Spark reads an empty field as null: compared as the empty string, as in the file.
        assert canonical(loaded, key) == canonical(expected, key)
        assert canonical(code["load_spark"](spark, [full_dir], entity, key).toPandas(), key) == canonical(expected, key)
