"""``manage.py demo_data``: counts per scale, reproducibility, the awkward data exports must survive, safety."""

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError
from django.db.models import Count, F, Max, Min
from django.db.models.functions import Length
from django.utils import timezone

from tests.wiki.conftest import site_digest
from tests.wiki.factories import PageFactory, SuperuserFactory, UserFactory
from wiki.demo import SCALES, DemoScale, scale_parse
from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]
NOW = "2026-11-01T12:00:00Z"
NOW_DATETIME = datetime(2026, 11, 1, 12, tzinfo=UTC)
TIMED = [
    (Content, "created"),
    (Content, "updated"),
    (Comment, "created"),
    (Comment, "updated"),
    (AnalyticsEvent, "created"),
]


def counts() -> DemoScale:
    return DemoScale(
        users=User.objects.filter(is_superuser=False).count(),
        spaces=Space.objects.count(),
        contents=Content.objects.count(),
        comments=Comment.objects.count(),
        events=AnalyticsEvent.objects.count(),
    )


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_builds_the_counts_of_the_scale(demo_data, scale):
    out, err = demo_data("--scale", scale)
    assert counts() == SCALES[scale]
    assert Profile.objects.count() == SCALES[scale].users
    assert "pages and blog posts" in out and "total" in out
    # Progress goes to stdout with the result; stderr stays empty on success.
    assert f"{SCALES[scale].contents:,} / {SCALES[scale].contents:,} (100%)" in out
    assert err == ""


def test_default_scale_is_small(demo_data):
    demo_data()
    assert counts() == SCALES["small"]


def test_scale_numbers_multiply_full():
    assert scale_parse("full") == DemoScale(100_000, 15_000, 1_000_000, 600_000, 800_000)
    assert scale_parse("0.01") == DemoScale(1_000, 150, 10_000, 6_000, 8_000)
    assert scale_parse("2") == DemoScale(200_000, 30_000, 2_000_000, 1_200_000, 1_600_000)
    # Never fewer pages than spaces: each space has a home page.
    tiny = scale_parse("0.000001")
    assert tiny.contents >= tiny.spaces >= 1 and tiny.users >= 1


@pytest.mark.parametrize("value", ["huge", "0", "-1", "nan", "1e9"])
def test_unknown_scale_is_refused_naming_the_value(demo_data, value):
    with pytest.raises(CommandError, match=re.escape(repr(value))):
        demo_data("--scale", value)
    assert counts() == DemoScale(0, 0, 0, 0, 0)


def test_same_seed_and_now_give_the_same_site_and_another_seed_or_now_another(demo_data):
    demo_data("--scale", "small", "--seed", "7", "--now", NOW)
    first = site_digest()
    demo_data("--scale", "small", "--seed", "7", "--now", "2026-11-01T13:00:00+01:00", "--reset")  # the same instant
    assert site_digest() == first
    demo_data("--scale", "small", "--seed", "8", "--now", NOW, "--reset")
    assert site_digest() != first
    demo_data("--scale", "small", "--seed", "7", "--now", "2026-11-02T12:00:00Z", "--reset")
    assert site_digest() != first
    assert counts() == SCALES["small"]


@pytest.mark.parametrize("value", ["yesterday", "2026-11-01T12:00:00", "2026-13-01T00:00:00Z"])
def test_a_bad_now_is_refused_naming_the_value(demo_data, value):
    with pytest.raises(CommandError, match=re.escape(repr(value))):
        demo_data("--scale", "tiny", "--now", value)
    assert counts() == DemoScale(0, 0, 0, 0, 0)


def test_refuses_a_second_run_without_reset_and_changes_nothing(demo_data):
    demo_data("--scale", "tiny")
    before = site_digest()
    with pytest.raises(CommandError, match="--reset") as refused:
        demo_data("--scale", "small")
    assert "already has data (5 users, 2 spaces, 10 pages and blog posts" in str(refused.value)
    assert "would add 200 users" in str(refused.value)
    assert site_digest() == before


def test_refuses_when_the_site_has_only_factory_data(demo_data):
    PageFactory()
    with pytest.raises(CommandError, match="--reset"):
        demo_data("--scale", "tiny")
    assert Content.objects.count() == 1


def test_reset_replaces_site_data_but_keeps_superusers(demo_data):
    admin = SuperuserFactory(username="admin")
    key = admin.profile.user_key
    UserFactory(username="someone")
    PageFactory(title="Old page")
    demo_data("--scale", "tiny", "--reset")
    assert not User.objects.filter(username="someone").exists()
    assert not Content.objects.filter(title="Old page").exists()
    assert Profile.objects.get(user__username="admin").user_key == key
    assert counts() == SCALES["tiny"]
    # Demo users come after the kept ones, and new rows after the demo's (sequences moved on).
    assert User.objects.filter(is_superuser=False).order_by("pk").first().pk > admin.pk
    page = PageFactory()
    assert page.pk > Content.objects.exclude(pk=page.pk).order_by("-pk").first().pk
    assert UserFactory().pk > admin.pk


def test_bodies_hold_every_awkward_character_even_at_the_tiny_scale(demo_data):
    demo_data("--scale", "tiny")
    bodies = list(Content.objects.values_list("body", flat=True))
    every = "\x00".join(bodies)
    assert "\r\n" in every
    assert re.search(r"\r(?!\n)", every), "a lone CR"
    assert re.search(r"(?<!\r)\n", every), "a lone LF"
    for char in ['"', ",", "\t", "é", "日本語", "😀"]:
        assert char in every, char
    assert any(len(body) > 10_000 for body in bodies)
    assert any(len(body) > 2_000 for body in Comment.objects.values_list("body", flat=True))


def test_the_small_site_is_realistic(demo_data):
    demo_data("--scale", "small")
    contents = Content.objects.all()
    # Nulls where the model allows them, and sizes the exports must handle.
    assert contents.filter(version_comment__isnull=True).exists()
    assert contents.filter(version_comment="").exists()
    assert contents.filter(labels=[]).exists() and contents.exclude(labels=[]).exists()
    assert contents.filter(parent__isnull=True, content_type="page").exists()
    assert contents.annotate(n=Length("body")).filter(n__gt=10_000).count() >= 20
    sizes = sorted(contents.annotate(n=Length("body")).values_list("n", flat=True))
    assert 1_000 < sizes[len(sizes) // 2] < 5_000, "page bodies of a few KB"
    assert set(contents.values_list("status", flat=True)) == {"current", "draft", "trashed", "historical"}
    assert contents.filter(status="current").count() > 0.8 * contents.count()
    # Trees: blog posts have no parent; a page's parent is a page of the same space.
    assert not contents.filter(content_type="blogpost", parent__isnull=False).exists()
    assert contents.filter(content_type="blogpost").count() > 100
    assert contents.filter(parent__isnull=False).exists()
    assert not contents.filter(parent__isnull=False).exclude(parent__space=F("space")).exists()
    assert not contents.filter(parent__isnull=False).exclude(parent__content_type="page").exists()
    # Spaces: every one has a home page of its own; personal spaces belong to their creator; some archived.
    spaces = Space.objects.all()
    assert spaces.filter(homepage__space=F("pk")).count() == spaces.count()
    assert set(spaces.values_list("space_type", flat=True)) == {"global", "personal"}
    for space in spaces.filter(space_type="personal").select_related("creator"):
        assert space.key == f"~{space.creator.username}"
    assert spaces.filter(status="archived").exists()
    # Comments: replies on the same page, footer and inline.
    comments = Comment.objects.all()
    assert comments.filter(parent__isnull=False).exists()
    assert not comments.filter(parent__isnull=False).exclude(parent__content=F("content")).exists()
    assert set(comments.values_list("location", flat=True)) == {"footer", "inline"}
    # Events: anonymous ones and ones without a space; containers are real pages.
    events = AnalyticsEvent.objects.all()
    assert events.filter(author__isnull=True).exists() and events.filter(space__isnull=True).exists()
    assert len(set(events.values_list("name", flat=True))) == len(AnalyticsEvent.Name)
    assert Content.objects.filter(pk__in=events.values("container_id")).count() > 0
    assert not events.exclude(container_id__in=Content.objects.values("pk")).exists()
    # Users: some inactive, some never logged in, all without a usable password.
    users = User.objects.filter(is_superuser=False)
    assert users.filter(is_active=False).exists() and users.filter(last_login__isnull=True).exists()
    assert not any(u.has_usable_password() for u in users[:20])
    assert any(not name.isascii() for name in Profile.objects.values_list("full_name", flat=True))


def newest_and_oldest() -> tuple[datetime, datetime]:
    newest = max(m.objects.aggregate(t=Max(field))["t"] for m, field in TIMED)
    oldest = min(m.objects.aggregate(t=Min(field))["t"] for m, field in TIMED)
    return newest, oldest


def test_times_span_the_two_years_before_now_the_newest_within_the_last_day(demo_data):
    demo_data("--scale", "small", "--now", NOW)
    newest, oldest = newest_and_oldest()
    assert NOW_DATETIME - timedelta(days=1) < newest <= NOW_DATETIME
    assert NOW_DATETIME - timedelta(days=730) <= oldest < NOW_DATETIME - timedelta(days=600)
    year_before = NOW_DATETIME - timedelta(days=365)
    month_before = NOW_DATETIME - timedelta(days=30)
    for model, field in [(Content, "updated"), (Comment, "updated"), (AnalyticsEvent, "created")]:
        rows = model.objects.all()
        # A default export (fromDate one year back) leaves some out and keeps some; a 30-day window finds some.
        assert rows.filter(**{f"{field}__lt": year_before}).exists()
        assert rows.filter(**{f"{field}__gte": year_before}).exists()
        assert rows.filter(**{f"{field}__gte": month_before}).count() > 0.02 * rows.count()
    assert not Content.objects.filter(updated__lt=F("created")).exists()
    assert not Comment.objects.filter(created__lt=F("content__created")).exists()


def test_without_now_the_site_is_dated_up_to_the_clock(demo_data):
    before = timezone.now().replace(microsecond=0)
    demo_data("--scale", "tiny")
    newest, oldest = newest_and_oldest()
    assert before - timedelta(days=1) < newest <= timezone.now()
    assert oldest >= before - timedelta(days=730)


def test_pages_are_spread_over_the_global_spaces_personal_spaces_hold_few(demo_data):
    demo_data("--scale", "small", "--now", NOW)
    per_space = dict(Space.objects.annotate(n=Count("contents")).values_list("key", "n"))
    assert sum(per_space.values()) == SCALES["small"].contents
    assert max(per_space.values()) < 0.25 * SCALES["small"].contents
    personal = {key: n for key, n in per_space.items() if key.startswith("~")}
    assert personal and max(personal.values()) <= 7
    global_sizes = sorted((n for key, n in per_space.items() if not key.startswith("~")), reverse=True)
    # A long tail: the biggest global space holds several times the median one.
    assert global_sizes[0] > 3 * global_sizes[len(global_sizes) // 2]


def sqlite_rows(path: Path) -> list[tuple]:
    """Every row of the site's tables in a SQLite file, read without Django."""
    with closing(sqlite3.connect(path)) as db:
        return [
            (table, *row)
            for table in (
                "auth_user",
                "wiki_profile",
                "wiki_space",
                "wiki_content",
                "wiki_comment",
                "wiki_analyticsevent",
            )
            for row in db.execute(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 (fixed table names)
        ]


@pytest.mark.integration
def test_command_line_refuses_a_second_run_and_rebuilds_the_same_site_in_another_process(tmp_path):
    """Through manage.py on a private SQLite file: a clear refusal with a failing exit status, and the same
    seed giving the same rows in a process with another hash seed."""
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_NAME")}
    environ["DATAPIPELINE_VAR_DIR"] = str(tmp_path)

    def manage(*args: str, hash_seed: str = "1") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=environ | {"PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "-v0").returncode == 0
    first = manage("demo_data", "--scale", "small", "--seed", "3", "--now", NOW)
    assert first.returncode == 0, first.stderr
    assert "analytics events" in first.stdout
    rows = sqlite_rows(tmp_path / "db.sqlite3")
    assert len(rows) == 200 + 200 + 20 + 2_000 + 1_200 + 1_600

    second = manage("demo_data", "--scale", "tiny")
    assert second.returncode == 1
    assert "already has data (200 users" in second.stderr and "--reset" in second.stderr
    assert "Traceback" not in second.stderr
    assert sqlite_rows(tmp_path / "db.sqlite3") == rows

    again = manage("demo_data", "--scale", "small", "--seed", "3", "--now", NOW, "--reset", hash_seed="2")
    assert again.returncode == 0, again.stderr
    assert sqlite_rows(tmp_path / "db.sqlite3") == rows
