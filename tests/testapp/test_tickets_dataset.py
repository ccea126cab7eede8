"""A second app's dataset through the unchanged engine: the test tracker's tickets (tests/testapp/datasets.py).

It is exported by both paths with the same bytes, documented in the schema reference and the REST
API's schema list, and its PROJECT opt-outs (added through the REST API) leave its rows out.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from datapipeline.jobfiles import job_dir
from datapipeline.schema_reference import render_reference
from exports.jobs import job_run
from exports.models import JobStatus
from exports.services import export_start
from exports.tokens import token_create
from optout.models import OptOutSpace
from tests.testapp.models import Project, Ticket

BASE = "/rest/datapipeline/latest/"
WIKI = ["users", "spaces", "pages", "comments", "analytics"]
EXPECTED_V2 = (
    "ticket_id,instance_url,project_key,ticket_url,title,resolved,updated_date,description\r\n"
    "{a},http://testserver,ENG,http://testserver/browse/ENG-{a},Crash on start,true,2026-03-29T01:30:00.250Z,"
    '"line one\\nline two, with ""quotes"""\r\n'
    "{b},http://testserver,ENG,http://testserver/browse/ENG-{b},Slow,false,2026-10-25T00:59:59.999Z,\r\n"
    "{c},http://testserver,K Ü,http://testserver/browse/K%20%C3%9C-{c},Untriaged,,2026-06-01T12:00:00.000Z,x\r\n"
    "{d},http://testserver,OPS,http://testserver/browse/OPS-{d},Disk full,true,2026-07-01T00:00:00.000Z,df -h\r\n"
)


@pytest.fixture
def tracker(db, settings) -> dict[str, Ticket]:
    settings.DATAPIPELINE_DATASETS = [*WIKI, "tickets"]
    settings.INSTANCE_URL = "http://testserver"
    settings.TIME_ZONE = "Europe/Amsterdam"
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
        "plugin.data.pipeline.export.batch.size": "2",  # several batches for four tickets
    }
    eng = Project.objects.create(key="ENG", name="Engineering")
    odd = Project.objects.create(key="K Ü", name="Odd key")
    ops = Project.objects.create(key="OPS", name="Operations")
    at = datetime(2026, 3, 29, 1, 30, 0, 250_000, tzinfo=UTC)  # Amsterdam: just after DST starts
    return {
        "a": Ticket.objects.create(
            project=eng, title="Crash on start", body='line one\r\nline two, with "quotes"', resolved=True, updated=at
        ),
        "b": Ticket.objects.create(
            project=eng, title="Slow", resolved=False, updated=datetime(2026, 10, 25, 0, 59, 59, 999_999, tzinfo=UTC)
        ),
        "c": Ticket.objects.create(
            project=odd, title="Untriaged", body="x", updated=datetime(2026, 6, 1, 12, tzinfo=UTC)
        ),
        "d": Ticket.objects.create(
            project=ops, title="Disk full", body="df -h", resolved=True, updated=datetime(2026, 7, 1, tzinfo=UTC)
        ),
    }


def export_files(settings, *, copy: bool, version: int = 2) -> dict[str, bytes]:
    settings.DATAPIPELINE_PG_COPY = copy
    job = job_run(export_start(enqueue=False, from_date="2000-01-01T00:00:00Z", schema_version=version).pk)
    assert job.status == JobStatus.COMPLETED, job.errors
    directory = Path(job_dir(job))
    manifest = json.loads((directory / "manifest.json").read_text())
    files = {f["entity"]: (directory / f["file"]).read_bytes() for f in manifest["files"]}
    for f in manifest["files"]:
        assert f["sha256"] == hashlib.sha256(files[f["entity"]]).hexdigest()
    return files


def expected(tracker: dict[str, Ticket], *, without: tuple[str, ...] = ()) -> bytes:
    lines = EXPECTED_V2.format(**{k: t.pk for k, t in tracker.items()}).split("\r\n")
    kept = [line for line in lines if not any(f"browse/{p}-" in line for p in without)]
    return "\r\n".join(kept).encode()


def test_the_tickets_file_follows_the_wiki_files(tracker, settings):
    files = export_files(settings, copy=False)
    assert list(files) == [*WIKI, "tickets"]
    assert files["tickets"] == expected(tracker)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL")
@pytest.mark.parametrize("version", [1, 2])
def test_both_paths_write_the_same_bytes(tracker, settings, monkeypatch, version):
    from datapipeline import batches

    standard = export_files(settings, copy=False, version=version)["tickets"]

    def standard_path_used(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the engine chose the standard path on PostgreSQL")

    monkeypatch.setattr(batches.PythonRows, "__init__", standard_path_used)
    copied = export_files(settings, copy=True, version=version)["tickets"]
    assert copied == standard
    if version == 2:
        assert copied == expected(tracker)
    else:  # the server's zone with its offset, and the description cut to 20 characters
        assert b"2026-03-29T03:30:00.250+02:00" in copied and b',"line one\\nline two, "\r\n' in copied


def test_the_schema_reference_and_the_api_list_the_dataset(tracker, settings):
    text = render_reference()
    assert "### tickets: `tickets_job<N>_v2_<timestamp>.csv`" in text
    assert "| 6 | `resolved` | boolean | Whether it is resolved; empty if not triaged. | v1 |" in text
    assert "| boolean | `boolean` |" in text

    body = api_client().get(f"{BASE}config/schema/2").json()
    tickets = next(d for d in body["datasets"] if d["name"] == "tickets")
    assert [d["name"] for d in body["datasets"]] == [*WIKI, "tickets"]
    assert (tickets["key"], tickets["dateField"], tickets["optOutScope"]) == ("ticket_id", "updated", "PROJECT")
    assert {"name": "resolved", "type": "boolean", "logicalType": "boolean"}.items() <= tickets["columns"][5].items()


def test_project_opt_outs_leave_their_tickets_out(tracker, settings):
    api = api_client()
    response = api.post(f"{BASE}config/optout", {"type": "PROJECT", "keys": ["ENG", "K Ü"]}, format="json")
    assert response.status_code == 200, response.json()
    assert [e["key"] for e in response.json()["entitiesProcessed"]] == ["ENG", "K Ü"]
    listed = api.get(f"{BASE}config/optout").json()["optedOutEntities"]
    assert [(e["type"], e["key"], e["displayName"]) for e in listed] == [
        ("PROJECT", "ENG", "Engineering"),
        ("PROJECT", "K Ü", "Odd key"),
    ]
    unknown = api.post(f"{BASE}config/optout", {"type": "PROJECT", "keys": ["NOPE"]}, format="json")
    assert unknown.status_code == 400 and "No project with key NOPE" in unknown.json()["message"]

    files = export_files(settings, copy=connection.vendor == "postgresql")
    assert files["tickets"] == expected(tracker, without=("ENG", "K%20%C3%9C"))
    assert b"OPS-" in files["tickets"] and b"ENG-" not in files["tickets"]

    api.delete(f"{BASE}config/optout", {"type": "PROJECT", "keys": ["ENG"]}, format="json")
    assert b"ENG-" in export_files(settings, copy=False)["tickets"]


def test_without_the_dataset_enabled_project_is_no_opt_out_type(db, settings):
    settings.DATAPIPELINE_DATASETS = WIKI
    response = api_client().post(f"{BASE}config/optout", {"type": "PROJECT", "keys": ["ENG"]}, format="json")
    assert response.status_code == 400 and "the only supported type is SPACE" in response.json()["message"]


def api_client() -> APIClient:
    user = get_user_model().objects.create_superuser("tracker-admin", "t@example.com", "tracker-password-123")
    _token, raw = token_create(user=user, name="tracker")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_optout_command_takes_the_registered_scopes(tracker):
    def run(*args: str) -> list[str]:
        out = StringIO()
        call_command("optout", *args, stdout=out)
        return out.getvalue().splitlines()

    assert run("add", "ENG", "K Ü", "--type", "PROJECT") == ["ENG", "K Ü"]
    with pytest.raises(CommandError, match=r"^No project with key NOPE; nothing was added"):
        run("add", "NOPE", "--type", "PROJECT")
    with pytest.raises(CommandError, match=r"^Unsupported opt-out type 'TEAM'; supported: SPACE, PROJECT\.$"):
        run("add", "ENG", "--type", "TEAM")
    with pytest.raises(CommandError, match=r"^'optout add' needs at least one project key\.$"):
        run("add", "--type", "PROJECT")
    assert run("list") == ["PROJECT ENG", "PROJECT K Ü"]  # every scope, each key after its type
    assert run("list", "--type", "PROJECT") == ["ENG", "K Ü"]
    assert run("list", "--type", "SPACE") == ["The opt-out list is empty."]
    assert run("remove", "ENG", "--type", "PROJECT") == ["K Ü"]
    with pytest.raises(CommandError, match=r"^Not on the opt-out list: ENG; nothing was removed\.$"):
        run("remove", "ENG", "--type", "PROJECT")
    assert list(OptOutSpace.objects.values_list("scope", "space_key")) == [("PROJECT", "K Ü")]


def test_the_optout_screen_lists_and_changes_each_scope(tracker, admin_client):
    url = reverse("admin:datapipeline_optout")
    page = admin_client.get(url).content.decode()
    assert '<option value="PROJECT">Project</option>' in page  # the add form chooses the type
    assert "Opted-out spaces" in page and "Opted-out projects" in page

    added = admin_client.post(url, {"entity_type": "PROJECT", "keys": "ENG, NOPE", "continue_if_not_found": "on"})
    assert added.status_code == 302
    shown = [str(m) for m in get_messages(added.wsgi_request)]
    assert shown == ["Added to the opt-out list: ENG.", "Skipped, no such project: NOPE."]
    refused = admin_client.post(url, {"entity_type": "SPACE", "keys": "ENG"})  # a project's key is no space's
    assert refused.status_code == 400 and "No space with key ENG" in refused.content.decode()

    page = admin_client.get(url).content.decode()
    projects = page[page.index('id="dp-optout-PROJECT"') :]
    assert 'data-key="ENG"' in projects and "Engineering" in projects
    assert "No space is opted out" in page

    removed = admin_client.post(url, {"remove": "1", "entity_type": "PROJECT", "remove_keys": ["ENG"]})
    assert removed.status_code == 302
    assert not OptOutSpace.objects.exists()
