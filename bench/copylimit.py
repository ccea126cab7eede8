"""The limit: how long PostgreSQL itself takes to ``COPY (SELECT <the export's columns>) TO STDOUT`` into a file.

The SELECT reads the same rows and columns as the export (fromDate and opt-out filters, primary
key order). When the COPY export path exists (``datapipeline.pgcopy.select_sql``) its SELECT is
used; otherwise it is built from the schema registry's querysets, as the standard path reads them.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from .exporting import scratch_dir
from .site import Site, django_setup


@dataclass
class CopyFigures:
    seconds: float
    bytes: int
    source: str  # "pgcopy.select_sql" or "registry querysets"


def entity_selects(site: Site, job: dict[str, Any]) -> dict[str, tuple[str, list[Any], str]]:
    """entity -> (SELECT, params, where the SELECT comes from), for the job's version and filters."""
    django_setup(site)
    from django.conf import settings

    from datapipeline.formatting import Dialect, RowFormatter
    from datapipeline.registry import datasets, opted_out_ids

    version = job["schema"]["version"]
    export_from = datetime.fromisoformat(job["config"]["exportFrom"].replace("Z", "+00:00"))
    opted_out = {group["type"]: group.get("identifiers", []) for group in job.get("optedOutEntities", [])}
    fake_job = SimpleNamespace(
        pk=job["jobId"], schema_version=version, export_from=export_from, opted_out_spaces=opted_out
    )
    try:
        from datapipeline import pgcopy  # the COPY export path, when it is there

        select_sql = getattr(pgcopy, "select_sql", None)
    except ImportError:
        select_sql = None
    opted_out_by_scope = opted_out_ids(opted_out)
    selects = {}
    for entity in datasets():
        if select_sql is not None:
            try:
                made = select_sql(entity, version, fake_job)
                sql, params = made if isinstance(made, tuple) else (made, [])
                selects[entity.name] = (sql, list(params), "pgcopy.select_sql")
                continue
            except Exception as exc:  # an interface this harness does not know: fall back, say so
                print(f"  (pgcopy.select_sql({entity.name}) failed: {exc!r}; using the registry's queryset)")
        queryset = entity.queryset(export_from, opted_out_by_scope)
        formatter = RowFormatter(entity, version, Dialect(), settings.INSTANCE_URL)
        sql, params = queryset.order_by("pk").values_list(*formatter.sources).query.sql_with_params()
        selects[entity.name] = (sql, list(params), "registry querysets")
    return selects


def copy_limit(site: Site, job: dict[str, Any]) -> dict[str, CopyFigures]:
    """Time ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` per entity, written into a scratch file."""
    import psycopg

    figures = {}
    scratch = scratch_dir()
    try:
        with psycopg.connect(site.conninfo, autocommit=True) as connection:
            cursor = psycopg.ClientCursor(connection)  # binds the parameters client-side: COPY takes none
            for name, (sql, params, source) in entity_selects(site, job).items():
                path = scratch / f"{name}.csv"
                started = time.monotonic()
                statement = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
                with open(path, "wb") as handle, cursor.copy(statement, params) as copy:
                    for block in copy:
                        handle.write(block)
                seconds = time.monotonic() - started
                figures[name] = CopyFigures(seconds=seconds, bytes=path.stat().st_size, source=source)
                path.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return figures
