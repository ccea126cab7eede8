"""The management commands: thin shells over the services, errors as CommandError naming the value."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from exports.models import ExportJob
from exports.services import export_start
from tests.engine.oracle import ENTITY_NAMES
from tests.engine.subprocesses import child_env


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def job_json(out: str) -> dict:
    """The job's JSON in the command's stdout (after any progress lines)."""
    return json.loads(out[out.index("{\n") : out.index("\n}\n") + 2])


@pytest.fixture
def quiet_properties(settings):
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
    }


def test_export_start_foreground_runs_the_export_and_prints_the_job_and_files(
    nasty_site, quiet_properties, export_root
):
    out, err = run("export_start", "--foreground", "--from-date", "2026-06-01T00:00:00Z", "--schema-version", "1")
    body = job_json(out)
    assert body["status"] == "COMPLETED"
    assert body["schema"] == {"version": 1, "status": "DEPRECATED"}
    assert body["statistics"]["exportedEntities"] == 5
    assert body["statistics"]["writtenRows"] == 3 + 3 + 4 + 3 + 3
    directory = export_root / str(body["jobId"])
    for path in directory.glob("*.csv"):
        assert path.name in out
    assert "manifest.json" in out
    # The only line on stderr is the warning: progress is not an error.
    assert err.splitlines() == [line for line in err.splitlines() if "deprecated" in line] != []
    # Progress on stdout: one line per entity with rows against the total (not a terminal here).
    assert out.startswith(f"Export {body['jobId']} running in the foreground (schema v1, csv) ...\n")
    for entity, rows in zip(ENTITY_NAMES, [3, 3, 4, 3, 3], strict=True):
        last = [line for line in out.splitlines() if line.startswith(entity)][-1]
        assert f"[{'#' * 30}]" in last and f" {rows}/{rows} rows" in last


def test_export_start_queues_by_default(db, quiet_properties, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("exports.jobs._enqueue", queued.append)  # the queue itself is the background tests'
    with django_capture_on_commit_callbacks(execute=True):
        out, _err = run("export_start")
    body = json.loads(out)
    assert body["status"] == "STARTED"
    assert queued == [body["jobId"]]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--schema-version", "7"], "'7'"),
        (["--from-date", "2999-01-01T00:00:00Z"], "2999-01-01T00:00:00Z"),
        (["--from-date", "2026-01-01T00:00"], "2026-01-01T00:00"),
        (["--from-date", "garbage"], "garbage"),
    ],
)
def test_export_start_refuses_bad_input_naming_it(db, export_root, args, named):
    with pytest.raises(CommandError, match=named):
        run("export_start", "--foreground", *args)
    assert ExportJob.objects.count() == 0
    assert not export_root.exists()


def test_export_start_refuses_while_an_export_runs(db, quiet_properties):
    running = export_start(enqueue=False)
    with pytest.raises(CommandError, match=f"Export {running.pk} is already running"):
        run("export_start", "--foreground")


def test_export_start_fails_on_low_disk_unless_forced(db, settings):
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "1000000000",
        "plugin.data.pipeline.throttle.ratio": "0",
    }
    with pytest.raises(CommandError, match="failed before it started: Not enough free disk space"):
        run("export_start", "--foreground")
    assert ExportJob.objects.get().status == "FAILED"
    # --force turns the pre-validation failure into a warning and the (tiny) export runs.
    out, err = run("export_start", "--foreground", "--force")
    body = job_json(out)
    assert body["status"] == "COMPLETED"
    assert body["config"]["forcedExport"] is True
    assert [w["key"] for w in body["warnings"]] == ["export.pre.validation.failed"]
    assert "Not enough free disk space" in err


def test_export_status_and_history(nasty_site, quiet_properties):
    out, _ = run("export_status")
    assert out.strip() == "No export has run yet."
    first = job_json(run("export_start", "--foreground")[0])["jobId"]
    second = job_json(run("export_start", "--foreground", "--schema-version", "1")[0])["jobId"]
    assert second == first + 1
    out, _ = run("export_status")
    assert out.startswith(f"Export {second}: COMPLETED")
    assert "schema      v1 (DEPRECATED)" in out
    assert "pages       " in out
    body = json.loads(run("export_status", "--json")[0])
    assert body["jobId"] == second
    history = run("export_status", "--history")[0].splitlines()
    assert history[0].split() == ["JOB", "STATUS", "START", "END", "DURATION", "ROWS", "NODE"]
    assert [line.split()[0] for line in history[1:]] == [str(second), str(first)]
    bodies = json.loads(run("export_status", "--history", "--json", "--limit", "1")[0])
    assert [b["jobId"] for b in bodies] == [second]
    with pytest.raises(CommandError, match="--limit must be at least 1, got 0"):
        run("export_status", "--history", "--limit", "0")


def test_export_cancel(db, quiet_properties):
    with pytest.raises(CommandError, match="There is no export to cancel"):
        run("export_cancel")
    job = export_start(enqueue=False)
    out, _ = run("export_cancel")
    assert out.strip() == f"Export {job.pk}: CANCELLATION_REQUESTED"
    with pytest.raises(CommandError, match="There is no export with id 99"):
        run("export_cancel", "--job-id", "99")


def test_optout_command(nasty_site, settings):
    assert run("optout")[0].strip() == "The opt-out list is empty."
    assert run("optout", "add", "HR", "ENG")[0].split() == ["ENG", "HR"]
    with pytest.raises(CommandError, match="NOPE"):
        run("optout", "add", "NOPE")
    assert run("optout", "add", "NOPE", "~alice", "--continue-if-not-found")[0].split() == ["ENG", "HR", "~alice"]
    assert run("optout", "remove", "HR")[0].split() == ["ENG", "~alice"]
    with pytest.raises(CommandError, match="Not on the opt-out list: HR"):
        run("optout", "remove", "HR")
    with pytest.raises(CommandError, match="needs at least one space key"):
        run("optout", "add")
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.optout.count.limit": "2"}
    with pytest.raises(CommandError, match="over the limit of 2"):
        run("optout", "add", "HR")
    assert run("optout", "list")[0].split() == ["ENG", "~alice"]


def test_export_path_command(db, tmp_path, export_root):
    assert run("export_path")[0].strip() == f"{export_root} (default)"
    custom = tmp_path / "custom" / "exports"
    assert run("export_path", "set", str(custom))[0].strip() == f"{custom} (custom)"
    with pytest.raises(CommandError, match="must be absolute: 'relative/dir'"):
        run("export_path", "set", "relative/dir")
    with pytest.raises(CommandError, match=r"^The export path /root is refused: it is inside the operating system's"):
        run("export_path", "set", "/root")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(CommandError, match=f"refused: it contains a symbolic link at {tmp_path / 'loop'}"):
        run("export_path", "set", str(tmp_path / "loop"))
    assert run("export_path", "show")[0].strip() == f"{custom} (custom)"
    assert run("export_path", "reset")[0].strip() == f"{export_root} (default)"


def test_pipeline_config_command(db, monkeypatch):
    out = run("pipeline_config")[0]
    assert "plugin.data.pipeline.embedded.line.break.preserve = false  (default)" in out
    assert "plugin.data.pipeline.optout.count.limit = 1000  (default)" in out
    out = run("pipeline_config", "set", "plugin.data.pipeline.optout.count.limit", "5")[0]
    assert out.strip() == "plugin.data.pipeline.optout.count.limit = 5  (admin)"
    with pytest.raises(
        CommandError, match=r"'lots' is not a valid value for plugin\.data\.pipeline\.optout\.count\.limit"
    ):
        run("pipeline_config", "set", "plugin.data.pipeline.optout.count.limit", "lots")
    with pytest.raises(CommandError, match=r"Unknown property 'plugin\.nope'"):
        run("pipeline_config", "set", "plugin.nope", "1")
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_OPTOUT_COUNT_LIMIT", "7")
    out = run("pipeline_config", "reset", "plugin.data.pipeline.optout.count.limit")[0]
    assert out.strip() == "plugin.data.pipeline.optout.count.limit = 7  (env)"


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sigterm_cancels_a_foreground_export_and_keeps_what_was_finished(on_postgres, tmp_path):
    if not on_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL): the export runs in another process")
    from django.contrib.auth.models import User

    User.objects.bulk_create([User(username=f"u{i}") for i in range(30)])
    env = child_env(
        tmp_path / "home",
        # One row per batch, and a long pause after each: the export is still running when we stop it.
        PLUGIN_DATA_PIPELINE_EXPORT_BATCH_SIZE="1",
        PLUGIN_DATA_PIPELINE_THROTTLE_RATIO="1000",
    )
    child = subprocess.Popen(
        [sys.executable, "manage.py", "export_start", "--foreground"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and child.poll() is None:
            job = ExportJob.objects.first()
            if job is not None and job.statistics.get("entities", {}).get("users", {}).get("rows", 0) >= 1:
                break
            time.sleep(0.2)
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, err
    assert "interrupted (SIGTERM): CANCELLED" in err
    assert '"status": "CANCELLED"' in out  # the job's final JSON
    job = ExportJob.objects.get()
    assert job.status == "CANCELLED"
    # The signal only set a flag: the export stopped between batches, with a working connection.
    assert "received SIGTERM" in job.errors[0]["message"]
    assert "another command is already in progress" not in err
    directory = tmp_path / "home" / "data-pipeline" / "export" / str(job.pk)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["job"]["status"] == "CANCELLED"
    assert manifest["files"] == []  # users was not finished: no file, and no partial file left
    # The loader kit is written before the data files; no data file and no partial file is left.
    assert sorted(p.name for p in directory.iterdir()) == ["loaders", "manifest.json"]
