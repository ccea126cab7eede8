"""What lands on disk: names, columns, dialect details, permissions, the manifest, fromDate and opt-out."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from optout.services import optout_add
from tests.engine.oracle import COLUMNS, ENTITY_NAMES, V1_COLUMNS, Expectation, compare
from tests.engine.sitedata import FROM_DATE


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def by_entity(directory: Path) -> dict[str, Path]:
    return {p.name.split("_job")[0]: p for p in directory.glob("*.csv")}


@pytest.mark.parametrize("version", [1, 2])
def test_headers_are_exactly_the_compatible_columns_in_order(nasty_site, run_job, version):
    _job, directory = run_job(schema_version=version)
    files = by_entity(directory)
    for entity in ENTITY_NAMES:
        header, _rows = read(files[entity])
        assert header == COLUMNS[version][entity]


def test_version_2_only_adds_columns_at_the_end(db):
    from datapipeline.registry import datasets

    for entity in datasets():
        v1 = [c.name for c in entity.columns_for(1)]
        v2 = [c.name for c in entity.columns_for(2)]
        assert v1 == V1_COLUMNS[entity.name]
        assert v2[: len(v1)] == v1
    assert [c.name for c in datasets()[0].columns_for(2)][5:] == ["user_status", "created_date", "last_login_date"]


def test_file_names_follow_the_pattern(nasty_site, run_job):
    job, directory = run_job()
    assert directory.name == str(job.pk)
    stamp = job.start_time.strftime("%Y-%m-%dT%H-%M-%SZ")
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted([f"{e}_job{job.pk}_v2_{stamp}.csv" for e in ENTITY_NAMES] + ["loaders", "manifest.json"])
    assert all(
        re.fullmatch(r"[a-z]+_job\d+_v\d_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.csv", n)
        for n in set(names) - {"loaders", "manifest.json"}
    )
    assert not list(directory.glob(".*")), "no partial files are left behind"


def test_an_empty_site_gives_header_only_files(db, run_job):
    from django.contrib.auth.models import User

    User.objects.all().delete()
    job, directory = run_job(schema_version=1)
    assert job.status == "COMPLETED"
    for entity, path in by_entity(directory).items():
        assert path.read_bytes() == (",".join(V1_COLUMNS[entity]) + "\r\n").encode()
    assert job.statistics["writtenRows"] == 0
    assert job.statistics["exportedEntities"] == 5


def test_rows_end_with_crlf_and_fields_are_quoted_only_when_needed(nasty_site, run_job):
    _job, directory = run_job()
    raw = by_entity(directory)["spaces"].read_bytes()
    text = raw.decode("utf-8")
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    lines = text.split("\r\n")
    assert lines[-1] == "" and len(lines) == 1 + 3 + 1  # header, 3 spaces, the final CRLF
    assert "\n" not in text.replace("\r\n", "") and "\r" not in text.replace("\r\n", "")
    hr = next(line for line in lines if line.startswith("HR,"))
    # HR has no quotes, commas or line breaks anywhere: nothing is quoted; NULL modifier and homepage are empty.
    assert hr.startswith("HR,http://localhost:8000,http://localhost:8000/display/HR,,Human resources,global,current,")
    assert '"' not in hr
    assert ",b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0,," in hr  # creator's key, then an empty last_modifier_id
    eng = next(line for line in lines if line.startswith("ENG,"))
    # The name has quotes and commas: quoted, inner quotes doubled, line breaks escaped as \n.
    assert ',"He said ""hi"", then left;\ta\ttab, CR\\nLF\\nCRLF\\nend — ünïcödé 日本語 😀👍🏽 \\backslash\\",' in eng


def test_lists_are_json_arrays_and_nulls_empty(nasty_site, run_job):
    _job, directory = run_job()
    _header, rows = read(by_entity(directory)["pages"])
    labels = [r["labels"] for r in rows]
    assert labels[0] == '["a","b,c","quote\\"d","ü😀"]'
    assert labels[1] == ""  # an empty collection is an empty cell, as Atlassian writes it
    child = rows[1]
    assert child["page_parent_id"] == str(rows[0]["page_id"])
    assert rows[0]["page_parent_id"] == ""  # top level
    assert child["creator_id"] == child["last_update_description"] == ""


@pytest.mark.parametrize("escape", ["<br>", "␤", ""])
def test_custom_escape_string(nasty_site, run_job, settings, escape):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.embedded.line.break.escape.char": escape}
    _job, directory = run_job()
    how = Expectation(version=2, escape=escape)
    for entity, path in by_entity(directory).items():
        header, rows = read(path)
        compare(entity, header, rows, how, from_date=FROM_DATE)
    assert f"CR{escape}LF{escape}CRLF{escape}end" in by_entity(directory)["users"].read_text(encoding="utf-8")


def test_preserved_line_breaks_stay_inside_quoted_fields(nasty_site, run_job, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.embedded.line.break.preserve": "true"}
    _job, directory = run_job()
    text = by_entity(directory)["users"].read_bytes().decode("utf-8")
    assert '"He said ""hi"", then left;\ta\ttab, CR\rLF\nCRLF\r\nend' in text


def test_version_1_truncates_content_and_version_2_does_not(nasty_site, run_job):
    home, comment = nasty_site["pages"][0], nasty_site["comments"][0]
    for version, page_len, comment_len in [(1, 10_000, 2_000), (2, 12_000, 2_500)]:
        _job, directory = run_job(schema_version=version)
        files = by_entity(directory)
        pages = {r["page_id"]: r for r in read(files["pages"])[1]}
        comments = {r["comment_id"]: r for r in read(files["comments"])[1]}
        page_text = pages[str(home.pk)]["page_content"]
        comment_text = comments[str(comment.pk)]["comment_content"]
        # Counted on the original text: the CRLF straddling the cut leaves one "\r" -> one escape.
        assert page_text == home.body[:page_len].replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
        assert comment_text.replace("\\n", "\n").__len__() <= comment_len
        assert comment_text == (
            comment.body[:comment_len].replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
        )
    assert len(home.body) == 12_000 and home.body[9_999:10_001] == "\r\n"


def test_private_permissions(nasty_site, run_job, export_root):
    _job, directory = run_job()
    for path in [export_root, directory]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in directory.rglob("*"):  # the files and the loader kit
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_group_readable_permissions(nasty_site, run_job, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.export.group.readable": "true"}
    _job, directory = run_job()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    for path in directory.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o750 if path.is_dir() else 0o640), path


def test_manifest_lists_every_file_with_checksums(nasty_site, run_job):
    job, directory = run_job(schema_version=1)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["job"]["jobId"] == job.pk
    assert manifest["job"]["status"] == "COMPLETED"
    assert manifest["job"]["schema"] == {"version": 1, "status": "DEPRECATED"}
    assert manifest["job"]["config"]["exportFrom"] == "2026-06-01T00:00:00Z"
    assert [f["entity"] for f in manifest["files"]] == ENTITY_NAMES
    for item in manifest["files"]:
        path = directory / item["file"]
        data = path.read_bytes()
        assert item["bytes"] == len(data)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert item["schemaVersion"] == 1
        assert item["rows"] == len(read(path)[1])
        assert job.statistics["entities"][item["entity"]]["rows"] == item["rows"]
    assert job.statistics["writtenRows"] == sum(f["rows"] for f in manifest["files"])
    # Written last: nothing in the directory is newer.
    newest = max(p.stat().st_mtime_ns for p in directory.iterdir())
    assert (directory / "manifest.json").stat().st_mtime_ns == newest


def test_from_date_filters_pages_comments_analytics_only(nasty_site, run_job):
    job, directory = run_job(from_date="2026-06-01T00:00:59.999+00:00")  # truncated to the minute
    assert job.export_from == FROM_DATE
    files = by_entity(directory)
    pages = [r["page_title"] for r in read(files["pages"])[1]]
    assert '"' in pages  # updated exactly at fromDate: included
    assert "old" not in pages  # one millisecond before: excluded
    assert "draft" not in pages  # not current: never exported
    comment_bodies = [r["comment_content"] for r in read(files["comments"])[1]]
    assert "old" not in comment_bodies and len(comment_bodies) == 3
    events = read(files["analytics"])[1]
    assert len(events) == 3  # the one a minute before fromDate is left out
    assert len(read(files["users"])[1]) == 3 and len(read(files["spaces"])[1]) == 3  # not filtered

    _later_job, later_dir = run_job(from_date=(FROM_DATE + timedelta(days=120)).isoformat())
    later = by_entity(later_dir)
    assert len(read(later["pages"])[1]) == 0
    assert len(read(later["users"])[1]) == 3


def test_opted_out_spaces_are_left_out_everywhere_but_users(nasty_site, run_job):
    optout_add(keys=["ENG"])
    job, directory = run_job()
    assert job.opted_out_spaces == {"SPACE": ["ENG"]}
    how = Expectation(version=2)
    for entity, path in by_entity(directory).items():
        header, rows = read(path)
        compare(entity, header, rows, how, from_date=FROM_DATE, opted_out=("ENG",))
    files = by_entity(directory)
    assert [r["space_key"] for r in read(files["spaces"])[1]] == ["HR", "~alice"]
    assert {r["space_key"] for r in read(files["pages"])[1]} == {"HR", "~alice"}
    assert {r["space_key"] for r in read(files["comments"])[1]} == {"HR"}
    assert [r["event_space_key"] for r in read(files["analytics"])[1]] == ["HR", ""]  # no space: kept
    assert len(read(files["users"])[1]) == 3
    assert json.loads((directory / "manifest.json").read_text())["job"]["optedOutEntities"] == [
        {"type": "SPACE", "identifiers": ["ENG"]}
    ]
