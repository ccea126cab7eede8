"""The schema reference is generated from the registry, and the checked-in copy is up to date."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from datapipeline.registry import datasets
from datapipeline.schema_reference import reference_path, render_reference


def test_checked_in_reference_is_up_to_date():
    assert reference_path().read_text(encoding="utf-8") == render_reference(), (
        "docs/schema-reference.md is stale: run python manage.py schema_reference --write"
    )
    out = io.StringIO()
    call_command("schema_reference", "--check", stdout=out)
    assert "is up to date" in out.getvalue()


def test_check_fails_on_a_stale_file(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "schema-reference.md").write_text("# edited by hand\n")
    with pytest.raises(CommandError, match="out of date"):
        call_command("schema_reference", "--check")
    call_command("schema_reference", "--write", stdout=io.StringIO())
    call_command("schema_reference", "--check", stdout=io.StringIO())


def test_every_column_of_every_version_is_documented():
    text = render_reference()
    for version in (1, 2):
        section = text.split(f"## Version {version} (")[1].split("\n## ")[0]
        for entity in datasets():
            table = section.split(f"### {entity.name}: ")[1].split("\n### ")[0]
            names = [
                line.split("|")[2].strip(" `") for line in table.splitlines() if line.startswith("| ") and "`" in line
            ]
            assert names == [c.name for c in entity.columns_for(version)], (version, entity.name)
    assert "| 8 | `last_login_date` | timestamp (UTC, `Z`) |" in text
    assert "Truncated to the first 10,000 characters in this version" in text
    assert '.option("escape", "\\"")' in text
