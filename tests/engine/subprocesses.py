"""Run Django in child processes against the test database (PostgreSQL: other processes can reach it)."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database, not the configured one)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "DATAPIPELINE_SHARED_HOME": str(home),
        "PLUGIN_DATA_PIPELINE_MINIMUM_USABLE_DISK_SPACE_AFTER_EXPORT": "-1",
        **extra,
    }
