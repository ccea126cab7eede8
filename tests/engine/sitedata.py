"""A small site full of nasty data (quotes, commas, CR/LF, tabs, non-ASCII, emoji, long bodies, NULLs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space

# Text that breaks naive CSV writers and readers.
NASTY = 'He said "hi", then left;\ta\ttab, CR\rLF\nCRLF\r\nend — ünïcödé 日本語 😀👍🏽 \\backslash\\'
QUOTES_ONLY = '"'
PADDED = "  padded with spaces  "
FROM_DATE = datetime(2026, 6, 1, tzinfo=UTC)


def long_text(length: int, *, line_break_at: int | None = None) -> str:
    """``length`` characters with emoji and line breaks spread through, one at ``line_break_at``."""
    unit = 'x😀,"\n'
    text = (unit * (length // len(unit) + 1))[:length]
    if line_break_at is not None:
        text = text[:line_break_at] + "\r\n" + text[line_break_at + 2 :]
    return text


def make_user(username: str, *, key: str | None, full_name: str = "", **fields: Any) -> User:
    user = User.objects.create(username=username, **fields)
    if key is not None:
        Profile.objects.create(user=user, user_key=key, full_name=full_name)
    return user


def build_nasty_site() -> dict[str, Any]:
    """Users, spaces, pages, comments and events covering every edge the CSV dialect must survive."""
    t = datetime(2026, 9, 15, 8, 30, 15, 123456, tzinfo=UTC)  # microseconds: exported to the millisecond
    alice = make_user(
        "alice",
        key="a" * 32,
        full_name=NASTY,
        email="alice@example.com",
        date_joined=t - timedelta(days=400),
        last_login=t,
    )
    bob = make_user(
        'bob,the"builder',
        key="b0b0" * 8,
        full_name=PADDED,
        email="",
        is_active=False,
        date_joined=t - timedelta(days=10, microseconds=999),
        last_login=None,
    )
    # No profile (as after createsuperuser): the export gives it a key before writing any file.
    ghost = make_user("ghost", key=None, email="ghost@example.com", date_joined=t)

    eng = Space.objects.create(
        key="ENG", name=NASTY, creator=alice, last_modifier=bob, created=t - timedelta(days=500), updated=t
    )
    hr = Space.objects.create(key="HR", name="Human resources", creator=bob, last_modifier=None, created=t, updated=t)
    personal = Space.objects.create(
        key="~alice",
        name="Alice's space",
        space_type=Space.Type.PERSONAL,
        status=Space.Status.ARCHIVED,
        creator=None,
        last_modifier=None,
        created=t,
        updated=t,
    )
    home = Content.objects.create(
        space=eng,
        title=NASTY,
        body=long_text(12_000, line_break_at=9_999),  # a CRLF straddles the 10,000-character cut
        labels=["a", "b,c", 'quote"d', "ü😀"],
        version=7,
        version_comment=NASTY,
        creator=alice,
        last_modifier=bob,
        created=t - timedelta(days=30),
        updated=t,
    )
    eng.homepage = home
    eng.save()
    child = Content.objects.create(
        space=eng,
        title=QUOTES_ONLY,
        body="",
        parent=home,
        labels=[],
        version_comment=None,
        creator=None,
        last_modifier=None,
        created=FROM_DATE,
        updated=FROM_DATE,  # exactly at fromDate: included
    )
    blog = Content.objects.create(
        space=hr,
        content_type=Content.Type.BLOGPOST,
        title=PADDED,
        body="<p>short</p>",
        labels=["hr"],
        version_comment="",
        creator=bob,
        last_modifier=alice,
        created=t,
        updated=t,
    )
    old = Content.objects.create(
        space=eng,
        title="old",
        body="old",
        created=FROM_DATE - timedelta(days=9),
        updated=FROM_DATE - timedelta(microseconds=1000),
    )
    Content.objects.create(space=eng, title="draft", status=Content.Status.DRAFT, updated=t)  # never exported
    personal_page = Content.objects.create(space=personal, title="mine", body="x", labels=["mine"], updated=t)

    c1 = Comment.objects.create(
        content=home,
        body=long_text(2_500, line_break_at=1_999),
        creator=alice,
        last_modifier=alice,
        created=t,
        updated=t,
    )
    c2 = Comment.objects.create(
        content=home,
        parent=c1,
        body=NASTY,
        location=Comment.Location.INLINE,
        creator=None,
        last_modifier=None,
        created=FROM_DATE,
        updated=FROM_DATE,
    )
    c3 = Comment.objects.create(content=blog, body="", creator=bob, last_modifier=bob, created=t, updated=t)
    c_old = Comment.objects.create(content=home, body="old", created=t, updated=FROM_DATE - timedelta(seconds=1))

    events = [
        AnalyticsEvent.objects.create(
            name="page_viewed", created=t, author=alice, space=eng, container_id=home.pk, content_id=home.pk
        ),
        AnalyticsEvent.objects.create(
            name="comment_created", created=FROM_DATE, author=None, space=hr, container_id=blog.pk, content_id=c3.pk
        ),
        AnalyticsEvent.objects.create(
            name="attachment_viewed", created=t, author=bob, space=None, container_id=None, content_id=None
        ),
        AnalyticsEvent.objects.create(
            name="page_viewed", created=FROM_DATE - timedelta(minutes=1), author=alice, space=eng, container_id=1
        ),
    ]
    return {
        "users": [alice, bob, ghost],
        "spaces": [eng, hr, personal],
        "pages": [home, child, blog, old, personal_page],
        "comments": [c1, c2, c3, c_old],
        "events": events,
        "t": t,
    }
