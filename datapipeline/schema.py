"""The export schema: entities x versions, each column's type, meaning and source.

This module is the one source of truth for the files' structure: the runner reads from it,
and ``manage.py schema_reference`` generates docs/schema-reference.md from it. To add a
column, append it to the entity's list with ``since=<latest version>``; to make a breaking
change, add a version to ``VERSIONS`` and give the changed columns ``since``/``until``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    status: str  # ACTIVE | DEPRECATED
    changes: str = ""  # what breaks compared with the previous version (added columns are listed from ENTITIES)


VERSIONS: tuple[SchemaVersion, ...] = (
    SchemaVersion(2, "ACTIVE", "Content columns are never truncated; all times are in UTC (`Z`)."),
    SchemaVersion(1, "DEPRECATED"),
)
DEFAULT_VERSION = 2
LATEST_VERSION = max(v.version for v in VERSIONS)


def version_info(version: int) -> SchemaVersion | None:
    return next((v for v in VERSIONS if v.version == version), None)


# Column kinds: how the value is turned into text (see datapipeline.formatting).
STRING = "string"
TEXT = "text"  # free text: embedded line breaks escaped unless preserved
INTEGER = "integer"
TIMESTAMP = "timestamp"
JSON_ARRAY = "json array"
URL = "url"


@dataclass(frozen=True)
class Column:
    """One column. ``source`` is an ORM path read with ``values_list``; ``url`` builds a link from sources."""

    name: str
    kind: str
    description: str
    source: str | None = None
    url: str | None = None  # a format string over sources, e.g. "/display/{space__key}"
    since: int = 1
    until: int | None = None
    max_length: dict[int, int] = field(default_factory=dict)  # version -> truncation length
    mapping: dict[Any, str] = field(default_factory=dict)  # database value -> exported text

    def in_version(self, version: int) -> bool:
        return self.since <= version and (self.until is None or version <= self.until)


INSTANCE_URL = Column("instance_url", URL, "Base URL of the site the row comes from.", url="")


def user_key(prefix: str) -> str:
    """ORM path from a row's user foreign key to that user's stable key."""
    return f"{prefix}__profile__user_key"


@dataclass(frozen=True)
class Entity:
    """One exported file: which rows (``queryset``) and which columns, per version."""

    name: str
    description: str
    row_filter: str  # human description of which rows are exported
    columns: tuple[Column, ...]
    queryset: Callable[..., QuerySet[Any]]
    date_field: str | None = None  # filtered by fromDate when set
    space_field: str | None = None  # opt-out filters on this foreign key (space id)

    def columns_for(self, version: int) -> list[Column]:
        return [c for c in self.columns if c.in_version(version)]


def _users() -> QuerySet[Model]:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.all()


def _spaces() -> QuerySet[Model]:
    from wiki.models import Space

    return Space.objects.all()


def _pages() -> QuerySet[Model]:
    from wiki.models import Content

    return Content.objects.filter(status=Content.Status.CURRENT)


def _comments() -> QuerySet[Model]:
    from wiki.models import Comment

    return Comment.objects.all()


def _analytics() -> QuerySet[Model]:
    from wiki.models import AnalyticsEvent

    return AnalyticsEvent.objects.all()


PAGE_URL = "/pages/viewpage.action?pageId={id}"

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "users",
        "Every user of the site.",
        "All users; not filtered by fromDate or the opt-out list.",
        (
            INSTANCE_URL,
            Column("user_id", STRING, "The user's stable key (32 hex characters).", source=user_key("")[2:]),
            Column("user_name", STRING, "The user's login name.", source="username"),
            Column("user_fullname", STRING, "The user's full name.", source="profile__full_name"),
            Column("user_email", STRING, "The user's email address.", source="email"),
            Column(
                "user_status",
                STRING,
                "`active` or `deactivated`.",
                source="is_active",
                since=2,
                mapping={True: "active", False: "deactivated"},
            ),
            Column("created_date", TIMESTAMP, "When the user was created.", source="date_joined", since=2),
            Column(
                "last_login_date",
                TIMESTAMP,
                "When the user last logged in; empty if never.",
                source="last_login",
                since=2,
            ),
        ),
        _users,
    ),
    Entity(
        "spaces",
        "Every space, global and personal, current and archived.",
        "All spaces except opted-out ones; not filtered by fromDate.",
        (
            Column("space_key", STRING, "The space's key.", source="key"),
            INSTANCE_URL,
            Column("space_url", URL, "Link to the space.", url="/display/{key}"),
            Column(
                "homepage_url",
                URL,
                "Link to the space's home page; empty if it has none.",
                url=PAGE_URL.replace("{id}", "{homepage_id}"),
            ),
            Column("space_name", TEXT, "The space's name.", source="name"),
            Column("space_type", STRING, "`global` or `personal`.", source="space_type"),
            Column("space_status", STRING, "`current` or `archived`.", source="status"),
            Column("creator_id", STRING, "Key of the user who created the space.", source=user_key("creator")),
            Column(
                "last_modifier_id",
                STRING,
                "Key of the user who last changed the space.",
                source=user_key("last_modifier"),
            ),
            Column("created_date", TIMESTAMP, "When the space was created.", source="created"),
            Column("updated_date", TIMESTAMP, "When the space was last changed.", source="updated"),
        ),
        _spaces,
        space_field="id",
    ),
    Entity(
        "pages",
        "Current pages and blog posts.",
        "Current pages and blog posts last modified at or after fromDate, outside opted-out spaces.",
        (
            Column("page_id", INTEGER, "The page's or blog post's id.", source="id"),
            INSTANCE_URL,
            Column("space_key", STRING, "Key of the space it belongs to.", source="space__key"),
            Column("page_url", URL, "Link to the page.", url=PAGE_URL),
            Column("page_type", STRING, "`page` or `blogpost`.", source="content_type"),
            Column("page_title", TEXT, "The title.", source="title"),
            Column("page_status", STRING, "`current`.", source="status"),
            Column(
                "page_content",
                TEXT,
                "The body in storage format (XHTML); version 1 keeps its first 10,000 characters.",
                source="body",
                max_length={1: 10_000},
            ),
            Column(
                "page_parent_id",
                INTEGER,
                "Id of the parent page; empty for top-level pages and blog posts.",
                source="parent_id",
            ),
            Column("labels", JSON_ARRAY, 'The labels, as a JSON array such as `["a","b"]`.', source="labels"),
            Column("page_version", INTEGER, "The version number.", source="version"),
            Column("creator_id", STRING, "Key of the user who created it.", source=user_key("creator")),
            Column(
                "last_modifier_id",
                STRING,
                "Key of the user who made the current version.",
                source=user_key("last_modifier"),
            ),
            Column("created_date", TIMESTAMP, "When it was created.", source="created"),
            Column("updated_date", TIMESTAMP, "When the current version was made.", source="updated"),
            Column(
                "last_update_description",
                TEXT,
                "The current version's comment; empty if none.",
                source="version_comment",
            ),
        ),
        _pages,
        date_field="updated",
        space_field="space_id",
    ),
    Entity(
        "comments",
        "Comments on pages and blog posts, with replies.",
        "Comments last modified at or after fromDate, outside opted-out spaces.",
        (
            Column("comment_id", INTEGER, "The comment's id.", source="id"),
            INSTANCE_URL,
            Column(
                "comment_url",
                URL,
                "Link to the comment.",
                url=PAGE_URL.replace("{id}", "{content_id}") + "&focusedCommentId={id}#comment-{id}",
            ),
            Column("page_id", INTEGER, "Id of the page or blog post commented on.", source="content_id"),
            Column("parent_comment_id", INTEGER, "Id of the comment replied to; empty if none.", source="parent_id"),
            Column(
                "comment_content",
                TEXT,
                "The body in storage format; version 1 keeps its first 2,000 characters.",
                source="body",
                max_length={1: 2_000},
            ),
            Column("creator_id", STRING, "Key of the user who wrote it.", source=user_key("creator")),
            Column(
                "last_modifier_id", STRING, "Key of the user who last changed it.", source=user_key("last_modifier")
            ),
            Column("created_date", TIMESTAMP, "When it was written.", source="created"),
            Column("updated_date", TIMESTAMP, "When it was last changed.", source="updated"),
            Column("space_key", STRING, "Key of the space of the page commented on.", source="space__key", since=2),
            Column("comment_location", STRING, "`footer` or `inline`.", source="location", since=2),
        ),
        _comments,
        date_field="updated",
        space_field="space_id",
    ),
    Entity(
        "analytics",
        "Analytics events: views, creations and updates of pages, blog posts, comments and attachments.",
        "Events at or after fromDate, outside opted-out spaces (events with no space are kept).",
        (
            INSTANCE_URL,
            Column("event_id", INTEGER, "The event's id.", source="id"),
            Column("event_name", STRING, "What happened, e.g. `page_viewed`.", source="name"),
            Column("created_date", TIMESTAMP, "When it happened.", source="created"),
            Column(
                "event_author_id", STRING, "Key of the user who did it; empty if anonymous.", source=user_key("author")
            ),
            Column("event_space_key", STRING, "Key of the space it happened in.", source="space__key"),
            Column("event_container_id", INTEGER, "Id of the page or blog post it happened in.", source="container_id"),
            Column("event_content_id", INTEGER, "Id of the thing it was about.", source="content_id"),
        ),
        _analytics,
        date_field="created",
        space_field="space_id",
    ),
)

ENTITY_BY_NAME = {e.name: e for e in ENTITIES}
