"""The export writes only into a directory it has just created, never through a symbolic link,
and its statistics and manifest describe exactly the files left on disk."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest

from datapipeline import control
from datapipeline.jobfiles import job_dir
from exports.configuration import export_path_set, property_set
from exports.jobs import export_cancel, job_run
from exports.models import JobStatus
from exports.services import export_start
from tests.background.sitedata import build_site

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quick(settings):
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="0")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory that is not the export's, with a file an attacker would like overwritten."""
    directory = tmp_path / "victim"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)  # noqa: S103 - a world-readable directory the export must not touch
    (directory / "manifest.json").write_text("precious\n")
    return directory


def snapshot(directory: Path) -> tuple[int, dict[str, str]]:
    return stat.S_IMODE(os.lstat(directory).st_mode), {p.name: p.read_text() for p in directory.iterdir()}


def test_an_export_path_replaced_by_a_symlink_after_it_was_set_fails_the_export(tmp_path: Path, victim: Path):
    build_site(pages=3)
    root = tmp_path / "exports"
    export_path_set(path=str(root))  # valid when set: it does not exist yet
    before = snapshot(victim)
    root.symlink_to(victim)

    job = job_run(export_start(enqueue=False).pk)

    assert job.status == JobStatus.FAILED
    assert job.errors[-1]["key"] == "export.path.invalid"
    assert job.errors[-1]["message"] == (
        f"The export path {root} is refused: it contains a symbolic link at {root}, which an export never follows."
    )
    assert snapshot(victim) == before
    assert job.statistics["writtenRows"] == 0


def test_a_symlink_planted_at_the_next_job_directory_fails_the_job_and_leaves_its_target_alone(
    export_root: Path, victim: Path
):
    build_site(pages=3)
    export_root.mkdir(parents=True)
    job = export_start(enqueue=False)
    before = snapshot(victim)
    (export_root / str(job.pk)).symlink_to(victim)

    job = job_run(job.pk)

    assert job.status == JobStatus.FAILED
    assert job.errors[-1] == {
        "key": "export.path.invalid",
        "message": (
            f"The job directory {export_root / str(job.pk)} is a symbolic link; an export only writes into a "
            "directory it has just created. Remove or rename it, then start a new export."
        ),
    }
    assert snapshot(victim) == before  # mode 0755 and the one file, unchanged
    assert os.readlink(export_root / str(job.pk)) == str(victim)


def test_a_symlink_planted_at_the_manifest_partial_is_not_written_through(export_root: Path, victim: Path):
    build_site(pages=3)
    job = export_start(enqueue=False)
    directory = job_dir(job)
    planted = []

    def plant(_statistics):  # while the export runs, its directory exists: plant the link once
        if not planted:
            (directory / ".manifest.json.partial").symlink_to(victim / "manifest.json")
            planted.append(True)

    job = job_run(job.pk, on_progress=plant)

    assert planted
    assert (victim / "manifest.json").read_text() == "precious\n"
    assert job.status == JobStatus.FAILED
    assert f"could not write {directory / 'manifest.json'}" in job.errors[-1]["message"]
    assert not (directory / "manifest.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_job_directory_created_in_advance_by_another_user_fails_the_job_and_gets_nothing(export_root: Path):
    build_site(pages=3)
    export_root.mkdir(parents=True)
    job = export_start(enqueue=False)
    planted = export_root / str(job.pk)
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)  # noqa: S103 - as an attacker would leave it
    os.chown(planted, 65534, 65534)

    job = job_run(job.pk)

    assert job.status == JobStatus.FAILED
    assert job.errors[-1]["message"].startswith(f"The job directory {planted} is already there;")
    assert list(planted.iterdir()) == []
    info = os.lstat(planted)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (65534, 0o777)


def test_missing_parents_are_created_private_and_existing_ones_keep_their_mode(tmp_path: Path):
    build_site(pages=2)
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, 0o755)  # noqa: S103 - an existing shared parent
    export_path_set(path=str(parent / "a" / "b"))

    job = job_run(export_start(enqueue=False).pk)

    assert job.status == JobStatus.COMPLETED, job.errors
    modes = {p: stat.S_IMODE(os.lstat(p).st_mode) for p in (parent, parent / "a", parent / "a" / "b", job_dir(job))}
    assert list(modes.values()) == [0o755, 0o700, 0o700, 0o700]


def rows_on_disk(directory: Path) -> dict[str, int]:
    counts = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            counts[path.name.split("_job")[0]] = sum(1 for _row in csv.reader(handle)) - 1  # minus the header
    return counts


def test_a_cancel_in_the_middle_of_an_entity_counts_only_the_files_on_disk(monkeypatch):
    build_site(users=3, spaces=2, pages=40)
    property_set(name="plugin.data.pipeline.export.batch.size", value="2")
    monkeypatch.setattr(control, "FLUSH_INTERVAL", 0.0)  # a progress update after every batch
    job = export_start(enqueue=False)

    def cancel_during_pages(statistics):
        pages = statistics["entities"].get("pages")
        if pages and pages["rows"] >= 6 and job.pk:
            export_cancel(job_id=job.pk)

    job = job_run(job.pk, on_progress=cancel_during_pages)

    assert job.status == JobStatus.CANCELLED
    directory = job_dir(job)
    on_disk = rows_on_disk(directory)
    assert on_disk == {"users": 3, "spaces": 2}
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".partial")]
    statistics = job.statistics
    assert statistics["writtenRows"] == sum(on_disk.values()) == 5
    assert statistics["exportedEntities"] == 2
    assert {name: (e["rows"], e["done"]) for name, e in statistics["entities"].items()} == {
        "users": (3, True),
        "spaces": (2, True),
        "pages": (0, False),
    }
    manifest = json.loads((directory / "manifest.json").read_text())
    assert {f["entity"]: f["rows"] for f in manifest["files"]} == on_disk
    assert manifest["job"]["statistics"]["writtenRows"] == 5
    assert manifest["outcome"]["notExported"] == ["pages", "comments", "analytics"]
