"""Fixtures every test shares: a private shared home per test, so exports never touch var/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def shared_home(settings, tmp_path: Path) -> Path:
    home = tmp_path / "shared-home"
    settings.DATAPIPELINE_SHARED_HOME = home
    return home


@pytest.fixture(autouse=True)
def export_niceness(settings) -> None:
    # In-process exports must not lower the priority of the test process's threads for good;
    # tests/background/test_control.py turns it on in a thread of its own.
    settings.DATAPIPELINE_EXPORT_NICENESS = 0


@pytest.fixture
def export_root(shared_home: Path) -> Path:
    return shared_home / "data-pipeline" / "export"


@pytest.fixture
def on_postgres(settings) -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory) -> Any:
    """The suite's one local Spark session, with Hive support (a Derby metastore and a warehouse in a
    temporary directory): a JVM fixes its catalog when its first session starts, so every test that
    reads with Spark shares this one, and the Hive tests run whichever test starts Spark first."""
    if shutil.which("java") is None:
        pytest.skip("PySpark needs Java (java not on PATH)")
    from pyspark.sql import SparkSession

    home = tmp_path_factory.mktemp("spark")
    options = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "768m",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home}/metastore;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
    }
    builder = SparkSession.builder.master("local[1]").appName("datapipeline-parquet-tests").enableHiveSupport()
    for key, value in options.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
