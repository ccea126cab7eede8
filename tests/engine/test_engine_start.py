"""Starting an export: parameter validation (nothing written when refused) and one export at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection

from datapipeline.errors import ExportAlreadyRunning, InvalidParameter
from exports.models import AuditEntry, ExportJob
from exports.services import export_start
from tests.engine.subprocesses import child_env

NOW = datetime(2026, 11, 24, 12, 34, 56, 789000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"schema_version": "3"}, "'3'"),
        ({"schema_version": "v2"}, "'v2'"),
        ({"schema_version": 0}, "0"),
        ({"from_date": "2999-01-01T00:00:00Z"}, "'2999-01-01T00:00:00Z'"),
        ({"from_date": "2026-01-01T00:00:00"}, "'2026-01-01T00:00:00'"),
        ({"from_date": "2026-01-01"}, "'2026-01-01'"),
        ({"from_date": "yesterday"}, "'yesterday'"),
        ({"from_date": "2026-13-45T00:00:00Z"}, "'2026-13-45T00:00:00Z'"),
    ],
)
def test_bad_parameters_are_refused_naming_the_value_and_nothing_is_written(db, export_root, params, named):
    with pytest.raises(InvalidParameter) as caught:
        export_start(enqueue=False, **params)
    assert named in caught.value.message
    assert caught.value.status_code == 400
    assert caught.value.errors[0]["key"] in ("export.schema.version.missing", "export.from.date.invalid")
    assert ExportJob.objects.count() == 0
    assert AuditEntry.objects.count() == 0
    assert not export_root.exists()


def test_future_from_date_by_one_minute_is_refused(db):
    with time_machine.travel(NOW, tick=False), pytest.raises(InvalidParameter, match="in the future"):
        export_start(enqueue=False, from_date=(NOW + timedelta(minutes=1)).isoformat())


def test_defaults_from_date_a_year_back_truncated_to_the_minute_and_the_active_version(db):
    with time_machine.travel(NOW, tick=False):
        job = export_start(enqueue=False)
    assert job.export_from == datetime(2025, 11, 24, 12, 34, tzinfo=UTC)
    assert job.schema_version == 2
    assert job.warnings == []
    assert job.status == "STARTED"


def test_from_date_with_an_offset_is_kept_as_that_instant(db):
    job = export_start(enqueue=False, from_date="2026-03-01T10:15:42.5+05:30")
    assert job.export_from == datetime(2026, 3, 1, 4, 45, tzinfo=UTC)


def test_version_1_is_exportable_with_the_deprecation_warning(db):
    job = export_start(enqueue=False, schema_version="1")
    assert job.schema_version == 1
    assert [w["key"] for w in job.warnings] == ["export.schema.version.deprecated"]


def test_a_second_export_while_one_is_active_is_refused(db):
    first = export_start(enqueue=False)
    with pytest.raises(ExportAlreadyRunning) as caught:
        export_start(enqueue=False, schema_version=1)
    assert f"Export {first.pk} is already running" in caught.value.message
    assert caught.value.status_code == 409
    assert ExportJob.objects.count() == 1
    ExportJob.objects.filter(pk=first.pk).update(status="COMPLETED")
    second = export_start(enqueue=False)
    assert second.pk == first.pk + 1


def test_the_database_itself_refuses_a_second_active_job(db):
    from django.db import IntegrityError, transaction

    export_start(enqueue=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportJob.objects.create(schema_version=2, export_from=NOW, root_export_path="/x", status="STARTED")


@pytest.mark.django_db(transaction=True)
def test_racing_threads_create_exactly_one_job(on_postgres):
    if not on_postgres:
        pytest.skip(
            "SQLite's in-memory test database gives threads 'database table is locked' at once; "
            "see test_racing_processes_on_an_sqlite_file for SQLite"
        )
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            barrier.wait(timeout=30)
            job = export_start(enqueue=False)
            outcomes.append(f"created {job.pk}")
        except ExportAlreadyRunning:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(o.startswith("created") for o in outcomes) == 1, outcomes
    assert outcomes.count("refused") == 3
    assert ExportJob.objects.count() == 1


CHILD = """
import json, os, sys, time
from pathlib import Path
import django
django.setup()
from exports.services import export_start
from tests.engine.subprocesses import child_env
from datapipeline.errors import ExportAlreadyRunning
from django.db import connection
connection.ensure_connection()
barrier = Path(sys.argv[1])
(barrier / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 60
while not (barrier / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.005)
try:
    job = export_start(enqueue=False)
    print(json.dumps({"created": job.pk}))
except ExportAlreadyRunning as exc:
    print(json.dumps({"refused": exc.message, "running": exc.job.pk}))
"""


def race(env: dict[str, str], barrier: Path, count: int = 3) -> list[dict]:
    """Start ``count`` processes that call export_start at the same moment; return what each got."""
    barrier.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(barrier)],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(barrier.glob("ready-*"))) < len(children) and time.monotonic() < deadline:
            assert all(c.poll() is None for c in children), [c.communicate() for c in children]
            time.sleep(0.05)
        (barrier / "go").touch()
        results = []
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    created = [r["created"] for r in results if "created" in r]
    refused = [r for r in results if "refused" in r]
    assert len(created) == 1, results
    assert len(refused) == count - 1
    assert all(r["running"] == created[0] for r in refused)
    assert all(f"Export {created[0]} is already running" in r["refused"] for r in refused)
    return results


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_racing_processes_create_exactly_one_job(on_postgres, tmp_path: Path):
    if not on_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL): the test database must be reachable from other processes")
    results = race(child_env(tmp_path / "home"), tmp_path / "barrier")
    created = [r["created"] for r in results if "created" in r]
    assert list(ExportJob.objects.values_list("pk", flat=True)) == created


@pytest.mark.integration
def test_racing_processes_on_an_sqlite_file(tmp_path: Path):
    """The embedded default: SQLite's partial unique index holds across processes too."""
    env = {
        **child_env(tmp_path / "home"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
        "DATAPIPELINE_VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=django_settings.BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    race(env, tmp_path / "barrier", count=4)
