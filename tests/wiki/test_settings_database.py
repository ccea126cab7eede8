"""The settings pick PostgreSQL when DATABASE_URL is set, the embedded SQLite otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRINT_ENGINE = (
    "import django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'], db['TEST']['NAME'])"
)


def engine_with(tmp_path: Path, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_NAME")}
    environ |= {"DJANGO_SETTINGS_MODULE": "config.settings", "DATAPIPELINE_VAR_DIR": str(tmp_path)} | env
    done = subprocess.run(
        [sys.executable, "-c", PRINT_ENGINE], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif((BASE_DIR / ".env").exists(), reason="a .env file in the checkout would set DATABASE_URL")
def test_sqlite_under_the_var_dir_without_database_url(tmp_path):
    assert engine_with(tmp_path) == ["django.db.backends.sqlite3", str(tmp_path / "db.sqlite3"), "None"]


def test_postgresql_when_database_url_is_set(tmp_path):
    url = "postgres://someone@db.example.com:5432/site"
    assert engine_with(tmp_path, DATABASE_URL=url, TEST_DATABASE_NAME="test_x") == [
        "django.db.backends.postgresql",
        "site",
        "test_x",
    ]
