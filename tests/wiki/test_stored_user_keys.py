"""The user keys stored on pages, comments and events (``datapipeline.stored``) always equal the profiles'.

The COPY path reads them instead of looking each one up, so a stale key would be a wrong value in an
exported file: every way a row or a profile can change is tried here, through the ORM and raw SQL.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection

from datapipeline import stored
from datapipeline.models import ChangeLog
from tests.wiki.factories import AnalyticsEventFactory, CommentFactory, PageFactory, UserFactory
from wiki.datasets import WIKI_DATASETS
from wiki.models import AnalyticsEvent, Comment, Content, Profile

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the keys are stored by PostgreSQL triggers"),
]


def keys(model: type, pk: int, *columns: str) -> tuple[str | None, ...]:
    """The stored columns as the database holds them (the instance in memory is not updated)."""
    return tuple(model.objects.filter(pk=pk).values_list(*columns).get())


def key_of(user: User | None) -> str | None:
    return None if user is None else Profile.objects.get(user=user).user_key


def test_rows_get_their_users_keys_when_written():
    alice, bob = UserFactory(), UserFactory()
    page = PageFactory(creator=alice, last_modifier=bob)
    comment = CommentFactory(content=page, creator=bob, last_modifier=alice)
    event = AnalyticsEventFactory(author=alice)
    assert keys(Content, page.pk, "creator_key", "last_modifier_key") == (key_of(alice), key_of(bob))
    assert keys(Comment, comment.pk, "creator_key", "last_modifier_key") == (key_of(bob), key_of(alice))
    assert keys(AnalyticsEvent, event.pk, "author_key") == (key_of(alice),)


def test_a_changed_user_changes_the_key_however_the_row_is_written():
    alice, bob = UserFactory(), UserFactory()
    comment = CommentFactory(creator=alice)
    Comment.objects.filter(pk=comment.pk).update(last_modifier=bob)  # no save(): the trigger does it
    assert keys(Comment, comment.pk, "creator_key", "last_modifier_key") == (key_of(alice), key_of(bob))
    comment.refresh_from_db()
    comment.creator = bob
    comment.save(update_fields=["creator"])
    assert keys(Comment, comment.pk, "creator_key") == (key_of(bob),)
    with connection.cursor() as cursor:  # a made-up key cannot stay
        cursor.execute("UPDATE wiki_comment SET creator_key = 'made-up', body = 'x' WHERE id = %s", [comment.pk])
    assert keys(Comment, comment.pk, "creator_key") == (key_of(bob),)


def test_a_profile_made_changed_or_removed_later_reaches_the_rows():
    carol = UserFactory(profile=None)  # a user without a profile yet: no key
    page = PageFactory(creator=carol, last_modifier=carol)
    event = AnalyticsEventFactory(author=carol)
    assert keys(Content, page.pk, "creator_key", "last_modifier_key") == (None, None)

    profile = Profile.objects.create(user=carol)
    assert keys(Content, page.pk, "creator_key", "last_modifier_key") == (profile.user_key, profile.user_key)
    assert keys(AnalyticsEvent, event.pk, "author_key") == (profile.user_key,)

    Profile.objects.filter(pk=profile.pk).update(user_key="0" * 32)
    assert keys(Content, page.pk, "creator_key", "last_modifier_key") == ("0" * 32, "0" * 32)

    profile.delete()
    assert keys(Content, page.pk, "creator_key", "last_modifier_key") == (None, None)


def test_a_deleted_user_leaves_no_key_behind():
    dave, erin = UserFactory(), UserFactory()
    comment = CommentFactory(creator=dave, last_modifier=erin)
    dave.delete()
    assert keys(Comment, comment.pk, "creator_id", "creator_key", "last_modifier_key") == (None, None, key_of(erin))


def test_filling_the_rows_already_there_changes_nothing_an_export_would_see():
    """The migration fills the columns of existing rows with the change-log triggers off: the exported
    values do not change, so an incremental export must not see every row as changed."""
    alice = UserFactory()
    comments = CommentFactory.create_batch(3, creator=alice)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's inserts have deferred checks pending
        cursor.execute('ALTER TABLE "wiki_comment" DISABLE TRIGGER USER')
        cursor.execute("UPDATE wiki_comment SET creator_key = NULL, last_modifier_key = NULL")
        cursor.execute('ALTER TABLE "wiki_comment" ENABLE TRIGGER USER')
    logged = ChangeLog.objects.count()
    with connection.schema_editor() as editor:
        for statement in stored.fill_sql(stored.stored_lookups(WIKI_DATASETS)):
            editor.execute(statement)
    assert ChangeLog.objects.count() == logged
    assert {keys(Comment, c.pk, "creator_key", "last_modifier_key") for c in comments} == {(key_of(alice),) * 2}


def test_the_wiki_stores_the_keys_of_pages_comments_and_events_only():
    found = {(s.table, s.column, s.outer) for s in stored.stored_lookups(WIKI_DATASETS)}
    assert found == {
        ("wiki_content", "creator_key", "creator_id"),
        ("wiki_content", "last_modifier_key", "last_modifier_id"),
        ("wiki_comment", "creator_key", "creator_id"),
        ("wiki_comment", "last_modifier_key", "last_modifier_id"),
        ("wiki_analyticsevent", "author_key", "author_id"),
    }
