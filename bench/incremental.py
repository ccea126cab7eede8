"""The incremental section: a full export, 1% of pages and comments changed and 0.1% deleted, then an
incremental export, in a scratch copy of the benchmark site (PostgreSQL only).

The site is copied with ``CREATE DATABASE <name>_inc TEMPLATE <name>`` (PostgreSQL needs the source
idle: retried for up to ``--copy-wait`` seconds), migrated there (the change-log triggers exist from
then on), exported in full (the base), changed through SQL (``UPDATE ... SET updated, body`` of 1% of
the contents and comments, ``DELETE`` of 0.1% of each, a deleted page's comments with it, as Django's
cascade would), exported incrementally, and dropped however it ends. Printed: per entity the full
export's rows and seconds beside the incremental's changed rows, deleted keys and seconds; the ratio of
the times (target at most 5%), both peak memories (target under 150 MB), the change log's size at each
step, and ``EXPLAIN ANALYZE`` of the incremental pages SELECT.

Run alone: ``python -m bench.incremental --database-url postgres://root@127.0.0.1:5432/dp_bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import reference as ref
from .exporting import ExportResult, run_export
from .site import Site, SiteError, django_setup, manage, neutral_config

SUFFIX = "_inc"
CHANGED_MODULO = 100  # rows whose id % 100 == 7 are changed: 1%
DELETED_MODULO = 1000  # rows whose id % 1000 == 3 are deleted: 0.1%
CHANGES = (
    # 1% of the pages and blog posts, and of the comments, changed; the body as an editor would, and the time.
    "UPDATE wiki_content SET updated = clock_timestamp(), body = body || ' ' WHERE id % 100 = 7",
    "UPDATE wiki_comment SET updated = clock_timestamp(), body = body || ' ' WHERE id % 100 = 7",
    # 0.1% of each deleted: a page's comments go with it (Django's cascade; the foreign key has no ON DELETE).
    "DELETE FROM wiki_comment WHERE id % 1000 = 3 OR content_id IN (SELECT id FROM wiki_content WHERE id % 1000 = 3)",
    "DELETE FROM wiki_content WHERE id % 1000 = 3",
)
INCREMENTAL_SHARE_TARGET = 0.05
LOG_COUNT = "SELECT count(*) FROM datapipeline_changelog"


@dataclass
class IncrementalFigures:
    full: ExportResult
    incremental: ExportResult
    changed: dict[str, int]  # table -> rows changed or deleted by each statement
    log_after_copy: int
    log_after_changes: int
    plan: list[str]

    @property
    def ratio(self) -> float:
        return self.incremental.export_seconds / max(self.full.export_seconds, 1e-9)


def scratch_site(site: Site) -> Site:
    parts = urlsplit(site.url)
    return Site(urlunsplit((parts.scheme, parts.netloc, f"/{site.name}{SUFFIX}", parts.query, "")))


def _admin(site: Site) -> str:
    return urlunsplit(("postgresql", urlsplit(site.url).netloc, "/postgres", "", ""))


def copy_site(site: Site, scratch: Site, *, wait_seconds: float, log: Callable[[str], None]) -> float:
    """``CREATE DATABASE scratch TEMPLATE site``, retried while another session uses the site; its seconds."""
    import psycopg
    from psycopg import sql

    drop_site(scratch)
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(scratch.name), sql.Identifier(site.name)
    )
    started = time.monotonic()
    deadline = started + wait_seconds
    told = False
    with psycopg.connect(_admin(site), autocommit=True) as connection:
        while True:
            try:
                connection.execute(statement)
                return time.monotonic() - started
            except psycopg.errors.ObjectInUse as exc:  # the template has other sessions
                if time.monotonic() >= deadline:
                    raise SiteError(
                        f"Could not copy {site.name}: it stayed in use for {wait_seconds:.0f} s ({exc})."
                    ) from None
                if not told:
                    log(f"  {site.name} is in use by another session: retrying for up to {wait_seconds:.0f} s ...")
                    told = True
                time.sleep(2)


def _close_django_connections() -> None:
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()


def drop_site(scratch: Site) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_admin(scratch), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch.name)))


def change_site(scratch: Site) -> dict[str, int]:
    changed = {}
    with scratch.connect() as connection:
        for statement in CHANGES:
            verb, table = statement.split()[0], statement.split()[2 if statement.startswith("DELETE") else 1]
            changed[f"{table} {verb.lower()}d"] = connection.execute(statement).rowcount
        connection.execute("ANALYZE datapipeline_changelog")
    return changed


def pages_plan(scratch: Site, job: dict[str, Any]) -> list[str]:
    """EXPLAIN ANALYZE of the incremental pages SELECT (the COPY path's, over every changed row)."""
    from datetime import datetime

    from django.conf import settings

    from datapipeline.formatting import Dialect, RowFormatter
    from datapipeline.incremental import Increment, changed_rows
    from datapipeline.pgcopy import Select
    from datapipeline.registry import dataset, opted_out_ids

    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    pages = dataset("pages")
    version = job["schema"]["version"]
    opted_out = {group["type"]: group.get("identifiers", []) for group in job.get("optedOutEntities", [])}
    by_scope = opted_out_ids(opted_out)
    increment = Increment(instant(job["config"]["changesSince"]), instant(job["startTime"]), opted_out)
    queryset = changed_rows(pages, pages.queryset(instant(job["config"]["exportFrom"]), by_scope), by_scope, increment)
    formatter = RowFormatter(pages, version, Dialect(), settings.INSTANCE_URL)
    sql, params = Select(formatter).sql(queryset)
    with scratch.connect() as connection:
        rows = connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    return [row[0] for row in rows]


def run_incremental(
    site: Site, *, from_date: str, wait_seconds: float = 60.0, log: Callable[[str], None] = print
) -> IncrementalFigures:
    """Copy the site, export it in full, change it, export incrementally; the copy is dropped afterwards."""
    if site.vendor != "postgresql":
        raise SiteError("The incremental section copies a PostgreSQL database: this site is SQLite.")
    scratch = scratch_site(site)
    _close_django_connections()  # this process's own session would keep the site from being copied
    try:
        seconds = copy_site(site, scratch, wait_seconds=wait_seconds, log=log)
        done = manage(scratch, "migrate", "--verbosity", "0", capture_output=True, text=True)
        if done.returncode != 0:
            raise SiteError(f"manage.py migrate failed on {scratch.name}:\n{done.stdout}{done.stderr}")
        log_after_copy = scratch.query(LOG_COUNT)[0][0]
        log(
            f"  copied {site.name} to {scratch.name} in {seconds:.1f} s and migrated it; "
            f"change log: {log_after_copy:,} entries"
            + (" (the site's own, older than the full export that follows: cleared)" if log_after_copy else "")
        )
        if log_after_copy:
            # A site built after the triggers existed logged each of its rows; stamped within the lookback, they
            # would make the incremental re-export them all. Nothing writes to the copy: no change is lost.
            scratch.query("DELETE FROM datapipeline_changelog")
            # What autovacuum does after such a delete, before a live site's next export: without it the log's
            # dead rows (180 MB for 2.6 million) are read by a sequential scan on stale statistics.
            scratch.query("VACUUM (ANALYZE) datapipeline_changelog")
        with neutral_config(scratch):
            full = run_export(scratch, throttle_ratio=0, from_date=from_date)
            changed = change_site(scratch)
            log_after_changes = scratch.query(LOG_COUNT)[0][0]
            incremental = run_export(scratch, throttle_ratio=0, from_date=from_date, mode="INCREMENTAL")
        django_setup(scratch)  # no-op if Django is already set up (the SQL is only compiled, then run on scratch)
        plan = pages_plan(scratch, incremental.job)
    finally:
        drop_site(scratch)
    return IncrementalFigures(full, incremental, changed, log_after_copy, log_after_changes, plan)


def incremental_section(
    out: Callable[[str], None], site: Site, *, from_date: str, wait_seconds: float
) -> dict[str, Any]:
    figures = run_incremental(site, from_date=from_date, wait_seconds=wait_seconds, log=out)
    full, inc = figures.full, figures.incremental
    out(
        "  changes: "
        + ", ".join(f"{n:,} {what}" for what, n in figures.changed.items())
        + f"; change log then {figures.log_after_changes:,} entries"
    )
    out(f"  {'entity':<10} {'full rows':>10} {'full s':>8} {'changed':>8} {'deleted':>8} {'incr. s':>8} {'share':>7}")
    for name, f in full.entities.items():
        i = inc.entities[name]
        out(
            f"  {name:<10} {f.rows:>10,} {f.seconds:>8.2f} {i.rows:>8,} {i.deleted_keys:>8,} {i.seconds:>8.2f} "
            f"{i.seconds / max(f.seconds, 1e-9):>7.1%}"
        )
    deleted = sum(e.deleted_keys for e in inc.entities.values())
    verdict = "met" if figures.ratio <= INCREMENTAL_SHARE_TARGET else "NOT met"
    out(
        f"  {'total':<10} {full.rows:>10,} {full.export_seconds:>8.2f} {inc.rows:>8,} {deleted:>8,} "
        f"{inc.export_seconds:>8.2f} {figures.ratio:>7.1%}  (target <= {INCREMENTAL_SHARE_TARGET:.0%}: {verdict})"
    )
    verdict = "met" if inc.peak_rss_mb < ref.MEMORY_TARGET_MB else "NOT met"
    out(
        f"  process wall: full {full.wall_seconds:.1f} s, incremental {inc.wall_seconds:.1f} s (Django start-up "
        f"included); peak RSS: full {full.peak_rss_mb:.0f} MB, incremental {inc.peak_rss_mb:.0f} MB "
        f"(target < {ref.MEMORY_TARGET_MB} MB: {verdict})"
    )
    out("  EXPLAIN ANALYZE of the incremental pages SELECT:")
    for line in figures.plan:
        out(f"    {line}")

    def entities(result: ExportResult) -> dict[str, Any]:
        return {
            n: {"rows": e.rows, "seconds": e.seconds, "deleted": e.deleted_keys} for n, e in result.entities.items()
        }

    return {
        "full": {"entities": entities(full), "seconds": full.export_seconds, "peak_rss_mb": full.peak_rss_mb},
        "incremental": {"entities": entities(inc), "seconds": inc.export_seconds, "peak_rss_mb": inc.peak_rss_mb},
        "ratio": figures.ratio,
        "changed": figures.changed,
        "change_log": {"after_copy": figures.log_after_copy, "after_changes": figures.log_after_changes},
        "plan": figures.plan,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="The PostgreSQL site to copy (left unchanged).")
    parser.add_argument("--from-date", default="2000-01-01T00:00:00Z", help="fromDate of both exports (default: all).")
    parser.add_argument(
        "--copy-wait", type=float, default=60.0, help="Seconds to retry the copy while the site is busy."
    )
    args = parser.parse_args(argv)
    site = Site(args.database_url)
    if site.vendor != "postgresql":
        parser.error("the incremental section needs a PostgreSQL site")
    out = print
    out(
        f"Incremental export: 1% of pages and comments changed, 0.1% deleted (site {site.name}, "
        f"fromDate {args.from_date})"
    )
    try:
        incremental_section(out, site, from_date=args.from_date, wait_seconds=args.copy_wait)
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
