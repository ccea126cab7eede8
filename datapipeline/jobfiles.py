"""What an export leaves on disk: its directory, file names and ``manifest.json``.

The runner and whoever ends a job whose worker died (the reaper, an immediate cancel) write the
manifest with the same code, so it always lists exactly the complete files with their checksums.
The job itself reaches this module as plain values: ``job`` is anything with ``pk``,
``root_export_path``, ``schema_version``, ``start_time`` (and ``statistics``), and the manifest's
job body is the caller's JSON (``exports.selectors.job_to_dict``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from .csvfile import partial_path
from .errors import KEY_UNEXPECTED, entry
from .loaders import LOADER_DIRECTORY
from .properties import get_property
from .registry import datasets
from .safefiles import open_new_file

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
HASH_CHUNK = 1024 * 1024


@dataclass
class WrittenFile:
    entity: str
    name: str
    rows: int
    bytes: int
    sha256: str
    content: str = "rows"  # or "deletedKeys": an incremental export's keys gone since its base


FILE_SUFFIXES = (".csv", ".parquet")


def file_name(entity: str, job_id: int, version: int, start_time: Any, file_format: str = "csv") -> str:
    timestamp = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{entity}_job{job_id}_v{version}_{timestamp}.{file_format}"


def deleted_file_name(entity: str, job_id: int, version: int, start_time: Any) -> str:
    """An incremental export's file of the keys gone since its base (header ``<key>,deleted_date``)."""
    return file_name(f"{entity}_deleted", job_id, version, start_time)


def job_dir(job: Any) -> Path:
    return Path(job.root_export_path) / str(job.pk)


def export_file_mode() -> int:
    return 0o640 if get_property("plugin.data.pipeline.export.group.readable") else 0o600


def count_complete_files(statistics: dict[str, Any], files: list[WrittenFile]) -> None:
    """Make the statistics describe the files on disk: an entity without a complete file has 0 rows."""
    complete = {f.entity: f.rows for f in files if f.content == "rows"}
    for name, entity in statistics.get("entities", {}).items():
        entity["rows"] = complete.get(name, 0)
        entity["done"] = name in complete
    statistics["writtenRows"] = sum(complete.values())
    statistics["exportedEntities"] = len(complete)


def write_job_manifest(
    job_body: dict[str, Any], directory: Path | None, files: list[WrittenFile], file_mode: int
) -> dict[str, str] | None:
    """Write ``manifest.json`` (``job_body`` as its job) into the job's own directory (None: there is none);
    return an error entry instead of raising, so the job always ends."""
    if directory is None or not directory.is_dir():
        return None
    config = job_body.get("config", {})
    incremental = job_body.get("mode") == "INCREMENTAL"
    manifest = {
        "manifestVersion": 1,
        # A loader applies jobs in order: a FULL one replaces everything, an INCREMENTAL one upserts its
        # rows by key and then deletes its deleted keys; baseJobId must be the job applied before it.
        "mode": job_body.get("mode", "FULL"),
        "baseJobId": config.get("sinceJobId"),
        "changesSince": config.get("changesSince"),
        "changesUntil": job_body.get("startTime") if incremental else None,
        "job": job_body,
        "files": [
            {
                "file": f.name,
                "entity": f.entity,
                "content": f.content,
                "schemaVersion": job_body["schema"]["version"],
                "rows": f.rows,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
        "loaders": _loader_files(directory),
        "outcome": _outcome(job_body["status"], files),
    }
    try:
        _write_manifest(directory, manifest, file_mode=file_mode)
    except OSError as exc:
        log.exception("Export %s: could not write its manifest", job_body["jobId"])
        return entry(KEY_UNEXPECTED, f"The export could not write {directory / MANIFEST_NAME}: {exc}")
    return None


def _loader_files(directory: Path) -> list[dict[str, Any]]:
    """The loader kit beside the files (``loaders/``), each with its bytes and SHA-256."""
    loaders = directory / LOADER_DIRECTORY
    if not loaders.is_dir() or loaders.is_symlink():
        return []
    listed = []
    for path in sorted(loaders.iterdir()):
        if _is_regular_file(path):
            size, sha256 = _size_and_sha256(path)
            listed.append({"file": f"{LOADER_DIRECTORY}/{path.name}", "bytes": size, "sha256": sha256})
    return listed


def _write_manifest(directory: Path, manifest: dict[str, Any], *, file_mode: int) -> None:
    path = directory / MANIFEST_NAME
    partial = partial_path(path)
    with os.fdopen(open_new_file(partial, file_mode), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(partial, path)


def _outcome(status: str, files: list[WrittenFile]) -> dict[str, Any]:
    """What a reader of the manifest needs to know about an export that stopped early."""
    done = {f.entity for f in files}
    missing = [e.name for e in datasets() if e.name not in done]
    if not missing:
        message = f"The export ended {status}; every file listed is complete."
    else:
        message = (
            f"The export ended {status}; every file listed is complete. Not exported: {', '.join(missing)} "
            "(a file in progress is removed, never left under its final name)."
        )
    return {"status": status, "notExported": missing, "message": message}


def read_manifest_files(directory: Path) -> list[dict[str, Any]] | None:
    """The files listed by the job directory's manifest (file, entity, rows, bytes, sha256); None without
    a readable manifest."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keys = ("file", "entity", "rows", "bytes", "sha256")
    return [{key: item.get(key) for key in keys} for item in data.get("files", [])]


def job_files(job: Any) -> tuple[list[dict[str, Any]], bool]:
    """The files a job wrote, and whether they come from its manifest; without one (still running), the
    CSV files in its directory so far, rows and checksum unknown."""
    directory = job_dir(job)
    listed = read_manifest_files(directory)
    if listed is not None:
        return listed, True
    files = []
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix in FILE_SUFFIXES:
                files.append({"file": path.name, "entity": path.name.split("_job")[0], "rows": None,
                              "bytes": path.stat().st_size, "sha256": None})  # fmt: skip
    return files, False


def close_dead_job_files(job: Any, describe: Callable[[Any], dict[str, Any]]) -> list[WrittenFile]:
    """For a job ended without its runner: remove its partial files, make ``job.statistics`` count only
    the complete files, write its manifest; return the files listed (the caller saves the statistics).

    Only the names the export itself uses are touched. A file counts as complete when its entity
    is marked done in the job's statistics and the file is there; its rows come from the
    statistics, its size and SHA-256 from the file. ``describe(job)`` is the manifest's job body.
    """
    directory = job_dir(job)
    if not directory.is_dir() or directory.is_symlink():
        return []
    file_format = getattr(job, "file_format", "csv")
    names = {e.name: file_name(e.name, job.pk, job.schema_version, job.start_time, file_format) for e in datasets()}
    for name in [*names.values(), MANIFEST_NAME]:
        _remove_if_file(partial_path(directory / name))
    job.statistics = job.statistics or {}
    entities = job.statistics.get("entities", {})
    files = []
    for entity, name in names.items():
        done = entities.get(entity, {})
        if done.get("done") and _is_regular_file(directory / name):
            size, sha256 = _size_and_sha256(directory / name)
            files.append(WrittenFile(entity, name, int(done.get("rows", 0)), size, sha256))
    count_complete_files(job.statistics, files)
    write_job_manifest(describe(job), directory, files, export_file_mode())
    return files


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _remove_if_file(path: Path) -> None:
    if _is_regular_file(path):
        path.unlink()


def _size_and_sha256(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()
