"""Full-key reconciliation of an incremental export: the keys a loader holds after applying the base chain
(its FULL export, then each incremental's rows upserted and deleted keys removed, read back from the
jobs' own files) compared with the keys the dataset holds now. A key the loader holds that is gone now,
and that no change-log entry named, left around the triggers (a ``TRUNCATE``, triggers disabled, a
restore): it is added to the job's deleted keys.

Guarded: when such keys are more than ``plugin.data.pipeline.incremental.reconcile.max.deleted.share``
of the chain's keys of a dataset, the export fails (:class:`ReconcileRefused`) unless it was forced,
in which case they are reported and the job warns. Both key sets live in temporary tables of the
export's database session, so the export's memory does not grow with the site.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import F

from .incremental import key_path
from .registry import Dataset

CHUNK = 5000
KEY_RECONCILE_REFUSED = "export.incremental.reconcile.refused"
KEY_RECONCILE_FORCED = "export.incremental.reconcile.forced"
KEY_RECONCILE_SKIPPED = "export.incremental.reconcile.skipped"


class ReconcileUnavailable(Exception):
    """A file or manifest of the base chain is gone: the loader's keys cannot be known."""


class ReconcileRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.key = KEY_RECONCILE_REFUSED


@dataclass
class Reconciled:
    dataset: Dataset
    chain_keys: int  # keys a loader holds after the base chain
    missing: int  # of those, keys gone now that no change-log entry named (see ``missing_keys``)

    @property
    def table(self) -> str:
        return f"dp_reconcile_{self.dataset.name}"

    @property
    def share(self) -> float:
        return self.missing / self.chain_keys if self.chain_keys else 0.0


def _chain_files(job_dirs: Sequence[Path], dataset: Dataset) -> list[tuple[Path, Path | None]]:
    """(rows file, deleted-keys file or None for the FULL export) per job of the chain, oldest first."""
    found = []
    for job_dir in job_dirs:
        manifest_path = Path(job_dir) / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReconcileUnavailable(f"{manifest_path}: {exc}") from None
        files = {
            f.get("content", "rows"): Path(job_dir) / f["file"]
            for f in manifest["files"]
            if f["entity"] == dataset.name
        }
        incremental = manifest.get("mode") == "INCREMENTAL"
        rows, deleted = files.get("rows"), files.get("deletedKeys") if incremental else None
        for path in (rows, deleted) if incremental else (rows,):
            if path is None or not path.is_file():
                raise ReconcileUnavailable(f"a {dataset.name} file of the export in {job_dir} is gone ({path})")
        found.append((rows, deleted))
    return found


def _keys(path: Path, key: str) -> Iterator[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        index = next(reader).index(key)
        for record in reader:
            yield record[index]


def _in_chunks(keys: Iterator[str]) -> Iterator[list[tuple[str]]]:
    chunk: list[tuple[str]] = []
    for key in keys:
        chunk.append((key,))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def reconcile(
    dataset: Dataset, job_dirs: Sequence[Path], export_from: Any, opted_out: Mapping[str, Sequence[Any]]
) -> Reconciled:
    """Load the chain's keys and the present ones into temporary tables; count the keys gone."""
    result = Reconciled(dataset, 0, 0)
    chain, present = result.table, f"{result.table}_present"
    files = _chain_files(job_dirs, dataset)
    with connection.cursor() as cursor:
        for table in (chain, present):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (key TEXT PRIMARY KEY)")
        for rows, deleted in files:
            for chunk in _in_chunks(_keys(rows, dataset.key)):
                cursor.executemany(f"INSERT INTO {chain} (key) VALUES (%s) ON CONFLICT DO NOTHING", chunk)  # noqa: S608
            if deleted is not None:
                for chunk in _in_chunks(_keys(deleted, dataset.key)):
                    cursor.executemany(f"DELETE FROM {chain} WHERE key = %s", chunk)  # noqa: S608
        now = dataset.queryset(export_from, opted_out).order_by().values(k=F(key_path(dataset)))
        sql, params = now.query.sql_with_params()
        cursor.execute(
            f"INSERT INTO {present} (key) SELECT DISTINCT CAST(s.k AS TEXT) FROM ({sql}) s WHERE s.k IS NOT NULL",  # noqa: S608
            params,
        )
        cursor.execute(f"SELECT count(*) FROM {chain}")  # noqa: S608
        result.chain_keys = cursor.fetchone()[0]
        cursor.execute(f"DELETE FROM {chain} WHERE key IN (SELECT key FROM {present})")  # noqa: S608
        cursor.execute(f"DROP TABLE {present}")
        cursor.execute(f"SELECT count(*) FROM {chain}")  # noqa: S608
        result.missing = cursor.fetchone()[0]
    return result


def missing_keys(reconciled: Reconciled) -> Iterator[str]:
    """The keys gone around the change log (the chain's keys no row holds now), then the table is dropped."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key FROM {reconciled.table} ORDER BY key")  # noqa: S608
        while rows := cursor.fetchmany(CHUNK):
            yield from (row[0] for row in rows)
    drop(reconciled)


def drop(reconciled: Reconciled) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {reconciled.table}")


def guard(reconciled: Sequence[Reconciled], max_share: float, forced: bool) -> list[str]:
    """Messages of the datasets over the share: raises ReconcileRefused unless ``forced`` (then warnings)."""
    over = [r for r in reconciled if r.missing and r.share > max_share]
    messages = [
        f"Reconciliation found {r.missing:,} of the {r.chain_keys:,} {r.dataset.name} keys of the base chain "
        f"({r.share:.1%}) gone without a change-log record, more than "
        f"plugin.data.pipeline.incremental.reconcile.max.deleted.share ({max_share:.1%})"
        for r in over
    ]
    if messages and not forced:
        for r in reconciled:
            drop(r)
        raise ReconcileRefused(
            "; ".join(messages) + ". Were rows removed around the application (TRUNCATE, a restore)? Run a FULL "
            "export, or this one with forceExport to report them as deleted."
        )
    return [m + ": reported as deleted (forceExport)." for m in messages]
