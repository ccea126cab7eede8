"""The site's five datasets (users, spaces, pages, comments, analytics) and its opt-out scope, SPACE.

The export engine discovers this module (``datapipeline.registry``); the order here is the order of
the files. Columns and their meanings are the export's public schema: docs/schema-reference.md is
generated from them (``manage.py schema_reference --write``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet

from datapipeline.changes import FanoutTrigger, RowTrigger
from datapipeline.kinds import INTEGER, JSON_ARRAY, STRING, TEXT, TIMESTAMP, URL, url_part
from datapipeline.queries import filter_in
from datapipeline.registry import (
    INSTANCE_URL,
    Column,
    Dataset,
    Lookup,
    OptOutScope,
    register_dataset,
    register_note,
    register_scope,
)

from .models import AnalyticsEvent, Comment, Content, Profile, Space
from .services import profile_ensure_all


def user_key(prefix: str | None, *, stored: bool = False) -> Lookup:
    """A user's stable key, from the row's user foreign key ``prefix`` (None: the row is the user).

    A profile's ``user_id`` is unique, so the COPY path reads it with an index lookup (or one join of the
    profiles for a large batch) rather than joining auth_user and then the profiles; with ``stored``, from
    the row's ``<prefix>_key`` field, which PostgreSQL triggers keep equal to it (``datapipeline.stored``).
    """
    return Lookup(
        path=f"{prefix}__profile__user_key" if prefix else "profile__user_key",
        model=Profile,
        match="user_id",
        outer=f"{prefix}_id" if prefix else "pk",
        value="user_key",
        stored=f"{prefix}_key" if stored and prefix else None,
    )


def history(creator: str, modifier: str, created: str, updated: str, *, stored: bool = False) -> tuple[Column, ...]:
    """Who made the row and who last changed it (user keys), and when: four columns, with their meanings.
    ``stored``: the rows keep the two user keys (``wiki.models.stored_user_key``)."""
    return (
        Column("creator_id", STRING, creator, source=user_key("creator", stored=stored)),
        Column("last_modifier_id", STRING, modifier, source=user_key("last_modifier", stored=stored)),
        Column("created_date", TIMESTAMP, created, source="created"),
        Column("updated_date", TIMESTAMP, updated, source="updated"),
    )


def space_uri(key: str) -> str:
    """The space's URL, as the export's ``space_url`` column writes it (the key percent-encoded)."""
    return f"{settings.INSTANCE_URL}/display/{url_part(key)}"


def space_ids(keys: list[str]) -> list[int]:
    return list(Space.objects.filter(key__in=keys).values_list("id", flat=True)) if keys else []


def space_entities(keys: list[str]) -> list[dict[str, Any]]:
    """One opt-out entity per key, in the given order, with one query; a key with no space has null
    identifier, displayName and uri."""
    found = filter_in(Space.objects.all(), "key", keys).values_list("key", "pk", "name")
    spaces = {key: (pk, name) for key, pk, name in found}
    entities = []
    for key in keys:
        pk, name = spaces.get(key, (None, None))
        entities.append(
            {
                "type": "SPACE",
                "identifier": None if pk is None else str(pk),
                "key": key,
                "displayName": name,
                "uri": None if pk is None else space_uri(key),
            }
        )
    return entities


register_scope(OptOutScope("SPACE", "A space: its pages, comments and analytics events.", space_ids, space_entities))


def _users() -> QuerySet[Model]:
    return get_user_model().objects.all()


def _spaces() -> QuerySet[Model]:
    return Space.objects.all()


def _pages() -> QuerySet[Model]:
    return Content.objects.filter(status=Content.Status.CURRENT)


def _comments() -> QuerySet[Model]:
    return Comment.objects.all()


def _analytics() -> QuerySet[Model]:
    return AnalyticsEvent.objects.all()


PAGE_URL = "/pages/viewpage.action?pageId={id}"

USERS = register_dataset(
    Dataset(
        "users",
        "Every user of the site.",
        "All users; not filtered by fromDate or the opt-out list.",
        "user_id",
        (
            INSTANCE_URL,
            Column("user_id", STRING, "The user's stable key (32 hex characters).", source=user_key(None)),
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
        prepare=profile_ensure_all,
    )
)
SPACES = register_dataset(
    Dataset(
        "spaces",
        "Every space, global and personal, current and archived.",
        "All spaces except opted-out ones; not filtered by fromDate.",
        "space_key",
        (
            Column("space_key", STRING, "The space's key.", source="key"),
            INSTANCE_URL,
            Column("space_url", URL, "Link to the space (the key percent-encoded).", url="/display/{key}"),
            Column(
                "homepage_url",
                URL,
                "Link to the space's home page; empty if it has none.",
                url=PAGE_URL.replace("{id}", "{homepage_id}"),
            ),
            Column("space_name", TEXT, "The space's name.", source="name"),
            Column("space_type", STRING, "`global` or `personal`.", source="space_type"),
            Column("space_status", STRING, "`current` or `archived`.", source="status"),
            *history(
                "Key of the user who created the space.",
                "Key of the user who last changed the space.",
                "When the space was created.",
                "When the space was last changed.",
            ),
        ),
        _spaces,
        optout_scope="SPACE",
        optout_field="id",
    )
)
PAGES = register_dataset(
    Dataset(
        "pages",
        "Current pages and blog posts.",
        "Current pages and blog posts last modified at or after fromDate, outside opted-out spaces.",
        "page_id",
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
            Column(
                "labels", JSON_ARRAY, 'The labels, as a JSON array such as `["a","b"]`; empty if none.', source="labels"
            ),
            Column("page_version", INTEGER, "The version number.", source="version"),
            *history(
                "Key of the user who created it.",
                "Key of the user who made the current version.",
                "When it was created.",
                "When the current version was made.",
                stored=True,
            ),
            Column(
                "last_update_description",
                TEXT,
                "The current version's comment; empty if none.",
                source="version_comment",
            ),
        ),
        _pages,
        date_field="updated",
        optout_scope="SPACE",
        optout_field="space_id",
    )
)
COMMENTS = register_dataset(
    Dataset(
        "comments",
        "Comments on pages and blog posts, with replies.",
        "Comments last modified at or after fromDate, outside opted-out spaces.",
        "comment_id",
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
            *history(
                "Key of the user who wrote it.",
                "Key of the user who last changed it.",
                "When it was written.",
                "When it was last changed.",
                stored=True,
            ),
            Column("space_key", STRING, "Key of the space of the page commented on.", source="space__key", since=2),
            Column("comment_location", STRING, "`footer` or `inline`.", source="location", since=2),
        ),
        _comments,
        date_field="updated",
        optout_scope="SPACE",
        optout_field="space_id",
    )
)
ANALYTICS = register_dataset(
    Dataset(
        "analytics",
        "Analytics events: views, creations and updates of pages, blog posts, comments and attachments.",
        "Events at or after fromDate, outside opted-out spaces (events with no space are kept).",
        "event_id",
        (
            INSTANCE_URL,
            Column("event_id", INTEGER, "The event's id.", source="id"),
            Column("event_name", STRING, "What happened, e.g. `page_viewed`.", source="name"),
            Column("created_date", TIMESTAMP, "When it happened.", source="created"),
            Column(
                "event_author_id",
                STRING,
                "Key of the user who did it; empty if anonymous.",
                source=user_key("author", stored=True),
            ),
            Column("event_space_key", STRING, "Key of the space it happened in.", source="space__key"),
            Column("event_container_id", INTEGER, "Id of the page or blog post it happened in.", source="container_id"),
            Column("event_content_id", INTEGER, "Id of the thing it was about.", source="content_id"),
        ),
        _analytics,
        date_field="created",
        optout_scope="SPACE",
        optout_field="space_id",
    )
)

register_note(
    "`user_id`, `creator_id`, `last_modifier_id` and `event_author_id` hold the same stable user key,\n"
    "so the files join on it. `page_id` joins comments and analytics (`event_container_id`) to pages."
)


# --- change capture (incremental exports) ------------------------------------------------------
# The triggers that record the datasets' changes (``datapipeline.changes``); created by the migration
# ``wiki/0003_change_triggers`` (a change here needs a new migration that installs them again).
_PROFILE, _SPACE = Profile._meta.db_table, Space._meta.db_table
# The wiki's datasets (the registry may hold other apps' too), e.g. for the migration that stores user keys.
WIKI_DATASETS = (USERS, SPACES, PAGES, COMMENTS, ANALYTICS)

CHANGE_TRIGGERS = (
    # A user's row reads auth_user and its profile: a change of either changes the user.
    RowTrigger(
        get_user_model()._meta.db_table,
        "users",
        key=f'(SELECT p.user_key FROM "{_PROFILE}" AS p WHERE p.user_id = {{r}}.id)',  # noqa: S608 - trigger DDL
    ),
    RowTrigger(_PROFILE, "users", row="user_id", key="{r}.user_key"),
    RowTrigger(_SPACE, "spaces", key="{r}.key"),
    RowTrigger(Content._meta.db_table, "pages"),
    RowTrigger(Comment._meta.db_table, "comments"),
    RowTrigger(AnalyticsEvent._meta.db_table, "analytics"),
    # A space's key is written in its pages', comments' and events' rows.
    *(
        FanoutTrigger(_SPACE, "key", name, model._meta.db_table, "space_id")
        for name, model in (("pages", Content), ("comments", Comment), ("analytics", AnalyticsEvent))
    ),
    # A user's key (its profile's) is written in every row the user made or changed: a profile made or
    # removed (or its key changed) changes them.
    *(
        FanoutTrigger(_PROFILE, column, name, model._meta.db_table, field, parent_column="user_id")
        for column in (None, "user_key")
        for name, model, fields in (
            ("spaces", Space, ("creator_id", "last_modifier_id")),
            ("pages", Content, ("creator_id", "last_modifier_id")),
            ("comments", Comment, ("creator_id", "last_modifier_id")),
            ("analytics", AnalyticsEvent, ("author_id",)),
        )
        for field in fields
    ),
)
