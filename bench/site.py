"""The benchmark's sites: a database URL, its counts, building it at a scale, and its configuration.

Everything here talks to the database directly (psycopg or sqlite3), so one benchmark run can
look at a PostgreSQL and a SQLite site; Django itself only runs in the subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# The benchmark's sites are dated up to a fixed "now", so every build gives the same rows and files.
SITE_NOW = "2026-11-01T00:00:00Z"
COUNT_SQL = {
    "users": "SELECT count(*) FROM auth_user WHERE NOT is_superuser",
    "spaces": "SELECT count(*) FROM wiki_space",
    "contents": "SELECT count(*) FROM wiki_content",
    "comments": "SELECT count(*) FROM wiki_comment",
    "events": "SELECT count(*) FROM wiki_analyticsevent",
}
# Properties whose admin value (a ConfigProperty row) would override what the benchmark sets
# through the environment; set aside during a run and put back afterwards.
OVERRIDDEN = (
    "plugin.data.pipeline.throttle.ratio",
    "plugin.data.pipeline.export.batch.size",
    "plugin.data.pipeline.minimum.usable.disk.space.after.export",
    "plugin.data.pipeline.embedded.line.break.preserve",
    "plugin.data.pipeline.embedded.line.break.escape.char",
)


class SiteError(Exception):
    """The site cannot be used for the benchmark (a message for the user)."""


@dataclass(frozen=True)
class Site:
    url: str  # DATABASE_URL for the subprocesses

    @property
    def vendor(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    @property
    def sqlite_path(self) -> Path:
        # sqlite:////abs/path (django-environ's form) or sqlite:///relative
        return Path(self.url.removeprefix("sqlite://")[1:] if self.url.startswith("sqlite:////") else self.url[10:])

    @property
    def conninfo(self) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))

    @property
    def name(self) -> str:
        return str(self.sqlite_path) if self.vendor == "sqlite" else urlsplit(self.url).path.lstrip("/")

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        if self.vendor == "sqlite":
            connection = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                yield connection
                connection.commit()
            finally:
                connection.close()
        else:
            import psycopg

            with psycopg.connect(self.conninfo, autocommit=True) as connection:
                yield connection

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.vendor == "sqlite":
            sql = sql.replace("%s", "?")
        with self.connect() as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def exists(self) -> bool:
        if self.vendor == "sqlite":
            return self.sqlite_path.exists()
        import psycopg

        admin = urlunsplit(("postgresql", urlsplit(self.url).netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True) as connection:
            row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)).fetchone()
        return row is not None

    def create(self) -> None:
        if self.vendor == "sqlite":
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            return
        import psycopg
        from psycopg import sql

        admin = urlunsplit(("postgresql", urlsplit(self.url).netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def has_tables(self) -> bool:
        if self.vendor == "sqlite":
            rows = self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'wiki_content'")
        else:
            rows = self.query("SELECT 1 FROM pg_tables WHERE tablename = 'wiki_content'")
        return bool(rows)

    def counts(self) -> dict[str, int]:
        return {name: self.query(sql)[0][0] for name, sql in COUNT_SQL.items()}

    def server_version(self) -> str | None:
        if self.vendor == "sqlite":
            return None
        return self.query("SHOW server_version")[0][0]


def child_env(site: Site, **extra: str) -> dict[str, str]:
    """The environment of a Django subprocess on ``site`` (benchmark settings win over the shell's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_DATA_PIPELINE_")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": site.url, **extra})
    return env


def manage(site: Site, *args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env or child_env(site), check=False, **kwargs
    )


def django_setup(site: Site) -> None:
    """Django in this process, on ``site`` (the schema registry and querysets; the exports run in children)."""
    from django.conf import settings

    if settings.configured:
        return
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = site.url
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def planned_counts(scale: str) -> dict[str, int]:
    from wiki.demo.scale import scale_parse

    s = scale_parse(scale)
    return {"users": s.users, "spaces": s.spaces, "contents": s.contents, "comments": s.comments, "events": s.events}


def ensure_site(site: Site, scale: str, *, seed: int = 42, log: Any = print) -> str:
    """Reuse ``site`` if it holds ``scale``, build it if empty; refuse if it holds something else.

    Returns "reused" or "built".
    """
    planned = planned_counts(scale)
    if site.exists() and site.has_tables():
        counts = site.counts()
        if counts == planned:
            return "reused"
        if any(counts.values()):
            raise SiteError(
                f"The database {site.name} holds another site ({_describe(counts)}), not scale {scale} "
                f"({_describe(planned)}). Use another --database-url (it is created and built when empty), "
                f"or --scale matching it; the benchmark never resets a database."
            )
    elif not site.exists():
        log(f"Creating the database {site.name} ...")
        site.create()
    log(
        f"Building the site at scale {scale} (seed {seed}, now {SITE_NOW}) in {site.name}; "
        "this is not part of the timed run ..."
    )
    for args in (
        ["migrate", "--verbosity", "0"],
        ["demo_data", "--scale", scale, "--seed", str(seed), "--now", SITE_NOW],
    ):
        done = manage(site, *args, capture_output=True, text=True)
        if done.returncode != 0:
            raise SiteError(f"manage.py {' '.join(args)} failed on {site.name}:\n{done.stdout}{done.stderr}")
    return "built"


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


@contextlib.contextmanager
def neutral_config(site: Site) -> Iterator[None]:
    """Set aside the admin's values that would override the benchmark (custom export path, properties).

    The rows are put back exactly as they were when the run ends, however it ends.
    """
    saved_properties = site.query(
        "SELECT key, value, updated FROM datapipeline_configproperty WHERE key IN ("
        + ", ".join(["%s"] * len(OVERRIDDEN))
        + ")",
        OVERRIDDEN,
    )
    saved_paths = site.query("SELECT id, path, updated FROM datapipeline_exportpath")
    try:
        for key, *_ in saved_properties:
            site.query("DELETE FROM datapipeline_configproperty WHERE key = %s", (key,))
        if saved_paths:
            site.query("DELETE FROM datapipeline_exportpath")
        yield
    finally:
        for row in saved_properties:
            site.query("INSERT INTO datapipeline_configproperty (key, value, updated) VALUES (%s, %s, %s)", row)
        for row in saved_paths:
            site.query("INSERT INTO datapipeline_exportpath (id, path, updated) VALUES (%s, %s, %s)", row)
