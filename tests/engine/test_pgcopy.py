"""The PostgreSQL COPY path writes exactly the bytes of the standard path (PostgreSQL only).

Every test exports the same site twice, once with ``DATAPIPELINE_PG_COPY`` off (the standard
path: values_list + RowFormatter + csv) and once with it on, and compares the files byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from datapipeline import batches, pgcopy
from datapipeline.registry import datasets
from exports.models import JobStatus
from optout.services import optout_add
from tests.engine.sitedata import FROM_DATE, NASTY, build_nasty_site, long_text, make_user
from tests.wiki.factories import AnalyticsEventFactory, CommentFactory, PageFactory, SpaceFactory
from wiki.models import Content

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL")

EARLY = "1900-01-01T00:00:00Z"
COMBINING = "e\u0301a\u0308o\u0302"  # three letters, six code points
EMOJI = "😀👍🏽🇩🇪"  # astral plane, a skin tone modifier, a flag (two regional indicators)
LABELS = ['", "', "x\ny", "\u0001\u001f", "é😀", "\\"]  # a separator look-alike, a line break, controls
HOSTILE_KEY = 'K,"Q"?#/& xÜ~%\n'  # every character a URL gives a meaning to, non-ASCII, a line break
HOSTILE_KEY_IN_URL = "K%2C%22Q%22%3F%23%2F%26%20x%C3%9C~%25%0A"


def edge_site() -> dict[str, Any]:
    """The nasty site plus every value the two CSV writers could disagree on."""
    site = build_nasty_site()
    alice = site["users"][0]
    t = site["t"]
    odd = make_user(
        "\\.",
        key="c" * 32,
        full_name=f" {COMBINING}\t{EMOJI} ",
        email="\\.",
        date_joined=datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),  # Europe: just before DST starts
        last_login=datetime(2026, 10, 25, 1, 0, 0, 1000, tzinfo=UTC),  # Europe: just after DST ends
    )
    make_user(
        "cr\ronly", key="d" * 32, full_name="", email="x,y@example.com", date_joined=datetime(1920, 6, 1, tzinfo=UTC)
    )
    old = SpaceFactory(
        key="\\.",
        name="\\.",
        creator=odd,
        last_modifier=alice,
        created=datetime(1920, 1, 15, 12, 0, 0, 500, tzinfo=UTC),  # Amsterdam then: +00:19:32
        updated=datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # St John's: DST starts
    )
    quoted = SpaceFactory(key='K"1,', name="a\r\nb\rc\nd", creator=None, last_modifier=None, created=t, updated=t)
    hostile = SpaceFactory(key=HOSTILE_KEY, name="h", creator=odd, last_modifier=None, created=t, updated=t)
    hostile.homepage = PageFactory(space=hostile, title="home", labels=[], updated=t)
    hostile.save()
    pages = [
        PageFactory(space=old, title="\\.", body="\\.", labels=LABELS, updated=t),
        PageFactory(space=quoted, title="", body="", labels="scalar", version_comment="\\.", updated=t),
        PageFactory(space=old, title="t", body="x" * 9_999 + EMOJI, labels=[], updated=t),  # emoji astride 10,000
        PageFactory(space=old, title="t", body=COMBINING * 2_000, updated=t),  # combining marks astride 10,000
        PageFactory(space=old, title="t", body="y" * 9_999 + "\r\n" + NASTY, updated=t),  # CR is char 10,000
        PageFactory(space=old, title="t", body="z" * 10_000, updated=t),  # exactly the limit; JSON null labels
        PageFactory(space=quoted, title=" lead", body="\r", labels=["x"], updated=FROM_DATE - timedelta(days=1)),
    ]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wiki_content SET labels = 'null'::jsonb WHERE id = %s", [pages[5].pk])
    weird = PageFactory(space=old, title="w", labels=[1, 2.5, {"b": [1, "c"], "a": None}, True, None], updated=t)
    comments = [
        CommentFactory(content=pages[0], body="c" * 1_999 + EMOJI, updated=t),
        CommentFactory(content=pages[0], body=COMBINING * 400, updated=t),
        CommentFactory(content=pages[1], body="d" * 1_999 + "\r\n", updated=t),
        CommentFactory(content=pages[1], body="\\.", creator=None, last_modifier=None, updated=t),
        CommentFactory(content=pages[6], body='""', updated=FROM_DATE - timedelta(days=2)),
    ]
    events = [
        AnalyticsEventFactory(space=old, created=datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        AnalyticsEventFactory(space=None, author=None, created=datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ]
    return {
        **site,
        "old": old,
        "quoted": quoted,
        "weird": weird,
        "pages": pages,
        "comments": comments,
        "events": events,
    }


def export(run_job, settings, *, copy: bool, **params: Any) -> tuple[Any, dict[str, bytes]]:
    settings.DATAPIPELINE_PG_COPY = copy
    job, directory = run_job(**params)
    assert job.status == JobStatus.COMPLETED, job.errors
    manifest = json.loads((directory / "manifest.json").read_text())
    files = {f["entity"]: (directory / f["file"]).read_bytes() for f in manifest["files"]}
    for f in manifest["files"]:  # the manifest describes the bytes written
        assert (f["bytes"], f["sha256"]) == (len(files[f["entity"]]), hashlib.sha256(files[f["entity"]]).hexdigest())
    return manifest, files


def assert_same_files(run_job, settings, monkeypatch, **params: Any) -> dict[str, bytes]:
    standard_manifest, standard = export(run_job, settings, copy=False, **params)

    def standard_path_used(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the engine chose the standard path on PostgreSQL")

    with monkeypatch.context() as patch:
        patch.setattr(batches.PythonRows, "__init__", standard_path_used)
        manifest, copied = export(run_job, settings, copy=True, **params)
    assert list(copied) == [e.name for e in datasets()]
    for entity in copied:
        assert copied[entity] == standard[entity], f"{entity}: the COPY path wrote different bytes"
    assert [f["rows"] for f in manifest["files"]] == [f["rows"] for f in standard_manifest["files"]]
    return copied


@pytest.fixture
def site(db) -> dict[str, Any]:
    return edge_site()


@pytest.fixture
def committed_site(transactional_db) -> dict[str, Any]:
    """Committed rows: the second connection of an unthrottled export sees them."""
    return edge_site()


@pytest.fixture
def two_streams(monkeypatch) -> list[int]:
    """Counts the entities exported with two connections (the real code runs)."""
    used: list[int] = []
    real = pgcopy.TwoStreams.__init__

    def counted(*args: Any, **kwargs: Any) -> None:
        used.append(1)
        real(*args, **kwargs)

    monkeypatch.setattr(pgcopy.TwoStreams, "__init__", counted)
    return used


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Amsterdam", "America/St_Johns"])
def test_same_bytes_for_every_entity_version_and_time_zone(site, run_job, settings, monkeypatch, version, zone):
    settings.TIME_ZONE = zone
    files = assert_same_files(run_job, settings, monkeypatch, schema_version=version, from_date=EARLY)
    # The data really holds what the test is about (an empty export would compare equal too).
    assert b"\\.," in files["users"] and "😀👍🏽".encode() in files["pages"]
    assert f"/display/{HOSTILE_KEY_IN_URL},".encode() in files["spaces"]
    if version == 1 and zone == "Europe/Amsterdam":
        assert b"+00:19:32" in files["spaces"]
    if version == 1 and zone == "America/St_Johns":
        assert b"-02:30" in files["spaces"] and b"-03:30" in files["spaces"]


@pytest.mark.parametrize(
    "properties",
    [
        {"plugin.data.pipeline.embedded.line.break.preserve": "true"},
        {"plugin.data.pipeline.embedded.line.break.escape.char": "<br>"},
        {"plugin.data.pipeline.embedded.line.break.escape.char": ""},
        {"plugin.data.pipeline.embedded.line.break.escape.char": "\r\n"},  # an escape that is itself a line break
        {"plugin.data.pipeline.embedded.line.break.escape.char": '%s"\\'},
    ],
    ids=["preserved", "br", "empty", "crlf", "percent-quote-backslash"],
)
@pytest.mark.parametrize("version", [1, 2])
def test_same_bytes_with_every_line_break_setting(site, run_job, settings, monkeypatch, properties, version):
    settings.TIME_ZONE = "Europe/Amsterdam"
    settings.DATAPIPELINE_PROPERTIES = {**settings.DATAPIPELINE_PROPERTIES, **properties}
    files = assert_same_files(run_job, settings, monkeypatch, schema_version=version, from_date=EARLY)
    if properties.get("plugin.data.pipeline.embedded.line.break.preserve"):
        assert b'"a\r\nb\rc\nd"' in files["spaces"]


@pytest.mark.parametrize("batch_size", ["1", "2", "7"])
def test_same_bytes_at_every_batch_boundary(site, run_job, settings, monkeypatch, batch_size):
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": batch_size,
    }
    assert_same_files(run_job, settings, monkeypatch, from_date=EARLY)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("target_bytes", [1, 700, 1 << 20], ids=["one-row", "a-few-rows", "whole-table"])
def test_same_bytes_with_batches_sized_by_bytes_and_profiles_joined(
    site, run_job, settings, monkeypatch, version, target_bytes
):
    """Batches follow the rows' width, and from JOIN_FROM_ROWS rows on the user keys come from a join."""
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": "1",
    }
    monkeypatch.setattr(pgcopy, "TARGET_BATCH_BYTES", target_bytes)
    monkeypatch.setattr(pgcopy, "JOIN_FROM_ROWS", 2)
    monkeypatch.setattr(pgcopy, "default_batch_size", lambda: 1)  # the size that adapts (5,000 outside tests)
    limits: list[int] = []
    joined: list[bool] = []
    real_learn, real_copy = pgcopy._Batches.learn, pgcopy._Batches.copy

    def learn(self: Any, rows: int, size: int) -> None:
        real_learn(self, rows, size)
        limits.append(self.limit)

    def copy(self: Any, cursor: Any, after: Any, high: Any, count: int, write: Any) -> int:
        joined.append(count >= pgcopy.JOIN_FROM_ROWS)
        return real_copy(self, cursor, after, high, count, write)

    monkeypatch.setattr(pgcopy._Batches, "learn", learn)
    monkeypatch.setattr(pgcopy._Batches, "copy", copy)
    files = assert_same_files(run_job, settings, monkeypatch, schema_version=version, from_date=EARLY)
    assert b"\\.," in files["users"]
    if target_bytes == 1:
        assert set(limits) == {1} and not any(joined)  # never below the batch-size property
    else:
        assert max(limits) > 1 and any(joined)  # wider batches, and the joined SQL really ran


def test_a_batch_size_set_by_the_administrator_is_kept(site, run_job, settings, monkeypatch):
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": "2",
    }
    monkeypatch.setattr(pgcopy, "TARGET_BATCH_BYTES", 1 << 20)
    limits: list[int] = []
    real_learn = pgcopy._Batches.learn

    def learn(self: Any, rows: int, size: int) -> None:
        real_learn(self, rows, size)
        limits.append(self.limit)

    monkeypatch.setattr(pgcopy._Batches, "learn", learn)
    assert_same_files(run_job, settings, monkeypatch, from_date=EARLY)
    assert limits and set(limits) == {2}


def test_the_joined_sql_reads_each_user_key_from_one_profile_join(db):
    from types import SimpleNamespace

    job = SimpleNamespace(export_from=datetime.fromisoformat(EARLY), opted_out_spaces=[])
    template = pgcopy.select_sql("spaces", 2, job)  # spaces look their users' keys up
    sql, _params = pgcopy._lookups_joined(template)
    assert "U0" not in sql and sql.count('LEFT OUTER JOIN "wiki_profile"') == 2
    assert '"lk0"."user_id" = "wiki_space"."creator_id"' in sql
    assert '"lk1"."user_id" = "wiki_space"."last_modifier_id"' in sql


@pytest.mark.parametrize(
    ("entity", "stored"),
    [
        ("pages", ["creator_key", "last_modifier_key"]),
        ("comments", ["creator_key", "last_modifier_key"]),
        ("analytics", ["author_key"]),
    ],
)
def test_pages_comments_and_events_read_the_user_keys_stored_on_their_rows(db, entity, stored):
    from types import SimpleNamespace

    job = SimpleNamespace(export_from=datetime.fromisoformat(EARLY), opted_out_spaces=[])
    sql, _params = pgcopy.select_sql(entity, 2, job)
    assert "wiki_profile" not in sql  # no lookup per row: datapipeline.stored keeps the keys on the rows
    assert all(f'."{column}" AS "c' in sql for column in stored)


@pytest.mark.parametrize("version", [1, 2])
def test_same_bytes_with_from_date_and_opted_out_spaces(site, run_job, settings, monkeypatch, version):
    optout_add(keys=["ENG", "\\."])
    files = assert_same_files(run_job, settings, monkeypatch, schema_version=version, from_date=FROM_DATE.isoformat())
    assert b"ENG" not in files["pages"] and b"HR" in files["pages"]


def test_labels_python_would_print_differently_go_through_the_standard_path(site, run_job, settings, monkeypatch):
    """Numbers and nested values: the batch holding them is formatted in Python, the others by COPY."""
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": "3",
    }
    files = assert_same_files(run_job, settings, monkeypatch, from_date=EARLY)
    assert b'"[1,2.5,{""a"":null,""b"":[1,""c""]},true,null]"' in files["pages"]
    assert b'"[""scalar""]"' in files["pages"]
    labels = json.dumps(LABELS, ensure_ascii=False, separators=(",", ":"))
    assert b'"' + labels.replace('"', '""').encode() + b'"' in files["pages"]


def test_copy_path_writes_more_rows_than_a_batch_without_holding_them(db, run_job, settings, monkeypatch):
    """Many batches of big rows; the file equals the standard path's."""
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": "50",
    }
    space = SpaceFactory()
    Content.objects.bulk_create(
        [Content(space=space, title=f"p{i}", body=long_text(3_000) + f'"{i}"', labels=[f"l{i}"]) for i in range(260)]
    )
    files = assert_same_files(run_job, settings, monkeypatch)
    assert files["pages"].count(b"p259,") == 1


def test_cancel_between_copy_batches_ends_the_job_cancelled(site, run_job, settings):
    """A stop noticed between two COPY batches of pages: earlier files complete, no pages file."""
    from datapipeline.jobfiles import job_dir
    from exports.jobs import job_run
    from exports.services import export_start

    settings.DATAPIPELINE_PG_COPY = True
    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.export.batch.size": "2",
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
    }
    job = export_start(enqueue=False, from_date=EARLY)
    batches: list[tuple[str, int]] = []

    def stop_check() -> str | None:
        from exports.models import ExportJob

        statistics = ExportJob.objects.get(pk=job.pk).statistics or {}
        pages = statistics.get("entities", {}).get("pages")
        batches.append(("pages", pages["rows"]) if pages else ("before", 0))
        return "the test stops it" if pages is not None and len([b for b in batches if b[0] == "pages"]) >= 2 else None

    job = job_run(job.pk, stop_check=stop_check)

    assert job.status == JobStatus.CANCELLED
    assert "the test stops it" in job.errors[-1]["message"]
    assert [name for name, _rows in batches].count("pages") == 2  # stopped in the middle of pages
    # Its file was removed unfinished: the statistics describe the files on disk.
    assert (job.statistics["entities"]["pages"]["rows"], job.statistics["entities"]["pages"]["done"]) == (0, False)
    entities = job.statistics["entities"]
    assert job.statistics["writtenRows"] == entities["users"]["rows"] + entities["spaces"]["rows"]
    names = sorted(p.name for p in Path(job_dir(job)).iterdir())
    assert [n.split("_")[0] for n in names if n.endswith(".csv")] == ["spaces", "users"]
    assert not any(n.endswith(".partial") for n in names)


def test_select_sql_gives_the_rows_of_the_file(site, settings):
    """The benchmark's SELECT: COPY of it equals the file's body (header and CRLF aside)."""
    from types import SimpleNamespace

    job = SimpleNamespace(export_from=datetime.fromisoformat(EARLY), opted_out_spaces=["HR"])
    sql, params = pgcopy.select_sql("comments", 2, job)
    connection.ensure_connection()
    import psycopg

    with (
        psycopg.ClientCursor(connection.connection) as cursor,
        cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
    ):
        data = b"".join(bytes(d) for d in copy)
    assert data.count(b"\n") >= 7
    assert b",HR," not in data and b",ENG,footer\n" in data


@pytest.mark.parametrize("batch_size", ["2", "3", "5000"])
def test_two_connections_write_the_same_bytes(committed_site, run_job, settings, monkeypatch, two_streams, batch_size):
    """Unthrottled and outside a transaction, the next batch is read on a second connection."""
    settings.TIME_ZONE = "America/St_Johns"
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.export.batch.size": batch_size,
    }
    for version in (1, 2):
        files = assert_same_files(run_job, settings, monkeypatch, schema_version=version, from_date=EARLY)
        assert b'"[1,2.5,{""a"":null,""b"":[1,""c""]},true,null]"' in files["pages"]  # a batch done in Python
    assert len(two_streams) == 2 * len(datasets())


def test_a_throttled_export_reads_one_batch_at_a_time(committed_site, run_job, settings, monkeypatch, two_streams):
    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.throttle.ratio": "0.01",
    }
    assert_same_files(run_job, settings, monkeypatch, from_date=EARLY)
    assert two_streams == []


@pytest.mark.parametrize("site_busy", [False, True], ids=["idle-site", "busy-site"])
def test_an_adaptive_throttle_reads_ahead_only_while_the_site_is_idle(
    committed_site, run_job, settings, monkeypatch, two_streams, site_busy
):
    from datapipeline.control import ExportControl

    settings.DATAPIPELINE_PROPERTIES = {
        **settings.DATAPIPELINE_PROPERTIES,
        "plugin.data.pipeline.throttle.ratio": "adaptive",
        "plugin.data.pipeline.export.batch.size": "2",
    }
    events: list[tuple[str, str]] = []  # ("read", which entity's table) or ("paused", "")
    real_bound, real_after = pgcopy._Batches.bound, ExportControl.after_batch

    def bound(self: Any, cursor: Any, after: Any, limit: int) -> Any:
        events.append(("read", self.queryset.model._meta.db_table))
        return real_bound(self, cursor, after, limit)

    def after_batch(self: Any, entity: str, rows: int) -> None:
        events.append(("paused", ""))
        real_after(self, entity, rows)

    monkeypatch.setattr(pgcopy._Batches, "bound", bound)
    monkeypatch.setattr(ExportControl, "after_batch", after_batch)
    monkeypatch.setattr(ExportControl, "prefetch_allowed", lambda self: not site_busy)
    assert_same_files(run_job, settings, monkeypatch, from_date=EARLY)
    assert len(two_streams) == len(datasets())  # the adaptive throttle uses the second connection
    # Two reads of one entity with no pause between them: the next batch was read ahead.
    ahead = sum(1 for a, b in itertools.pairwise(events) if a[0] == b[0] == "read" and a[1] == b[1])
    if site_busy:  # the next batch is read only after the pause that follows the last one
        assert ahead == 0, events
    assert sum(1 for e in events if e[0] == "paused") > len(datasets())


def test_cancel_between_batches_with_two_connections(committed_site, settings, two_streams, monkeypatch):
    """A stop seen between two batches: the other connection's read is stopped, the job ends CANCELLED."""
    monkeypatch.setattr(pgcopy, "TARGET_BATCH_BYTES", 1)  # every batch holds the batch-size property's one row

    from datapipeline.jobfiles import job_dir
    from exports.jobs import job_run
    from exports.services import export_start

    settings.DATAPIPELINE_PROPERTIES = {
        "plugin.data.pipeline.export.batch.size": "1",
        "plugin.data.pipeline.throttle.ratio": "0",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export": "-1",
    }
    from django.contrib.auth.models import User

    from wiki.models import Space

    job = export_start(enqueue=False, from_date=EARLY)
    before_pages = User.objects.count() + Space.objects.count()  # batches of one row
    calls: list[int] = []

    def stop_check() -> str | None:  # asked after every batch
        calls.append(1)
        pages_batches = len(calls) - before_pages
        return "the test stops it" if pages_batches >= 3 else None

    job = job_run(job.pk, stop_check=stop_check)

    assert job.status == JobStatus.CANCELLED
    assert "the test stops it" in job.errors[-1]["message"]
    assert len(calls) - before_pages == 3  # stopped after three batches of pages
    # Its file was removed unfinished: the statistics describe the files on disk.
    assert (job.statistics["entities"]["pages"]["rows"], job.statistics["entities"]["pages"]["done"]) == (0, False)
    assert job.statistics["writtenRows"] == before_pages
    assert len(two_streams) == 3  # users, spaces and pages were read with two connections
    names = sorted(p.name for p in Path(job_dir(job)).iterdir())
    assert [n.split("_")[0] for n in names if n.endswith(".csv")] == ["spaces", "users"]
    assert not any(n.endswith(".partial") for n in names)
    assert _other_connections_after_closing() == 0  # no connection of the export is left behind


def _other_connections_after_closing(wait_seconds: float = 5.0) -> int:
    """Connections to the test database besides this one, once closed ones have gone: a backend leaves
    ``pg_stat_activity`` shortly after its client closes, not at the same instant."""
    import time

    from django.db import connections

    deadline = time.monotonic() + wait_seconds
    with connections["default"].cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()")
            others = cursor.fetchone()[0]
            if others == 0 or time.monotonic() > deadline:
                return others
            time.sleep(0.05)
