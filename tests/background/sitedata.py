"""A small site built with bulk_create: as many rows as a test needs, in a few queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.utils import timezone

from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space


@dataclass
class SiteSize:
    users: int
    spaces: int
    pages: int
    comments: int
    events: int


def build_site(
    *, users: int = 3, spaces: int = 2, pages: int = 20, comments: int = 0, events: int = 0, body_bytes: int = 200
) -> SiteSize:
    """Create the rows (all recent, so every one is exported with the default fromDate)."""
    now = timezone.now()
    people = User.objects.bulk_create(
        [
            User(username=f"bg-user-{i}", email=f"bg-user-{i}@example.com", first_name="Bg", last_name=str(i))
            for i in range(users)
        ]
    )
    Profile.objects.bulk_create([Profile(user=u, full_name=f"Bg {i}") for i, u in enumerate(people)])
    space_rows = Space.objects.bulk_create(
        [
            Space(key=f"BG{i}", name=f"Background {i}", creator=people[0], created=now, updated=now)
            for i in range(spaces)
        ]
    )
    body = ("<p>" + "x" * max(0, body_bytes - 7) + "</p>")[: max(body_bytes, 7)]
    contents = Content.objects.bulk_create(
        [
            Content(
                space=space_rows[i % spaces],
                title=f"Page {i}",
                body=body,
                creator=people[i % users],
                last_modifier=people[i % users],
                created=now,
                updated=now,
            )
            for i in range(pages)
        ],
        batch_size=1000,
    )
    Comment.objects.bulk_create(
        [
            Comment(
                content=contents[i % pages],
                space_id=contents[i % pages].space_id,
                body=f"Comment {i}",
                creator=people[i % users],
                created=now,
                updated=now,
            )
            for i in range(comments)
        ],
        batch_size=1000,
    )
    AnalyticsEvent.objects.bulk_create(
        [
            AnalyticsEvent(
                name=AnalyticsEvent.Name.PAGE_VIEWED,
                created=now,
                author=people[i % users],
                space=space_rows[i % spaces],
                container_id=contents[i % pages].pk,
                content_id=contents[i % pages].pk,
            )
            for i in range(events)
        ],
        batch_size=1000,
    )
    return SiteSize(users, spaces, pages, comments, events)
