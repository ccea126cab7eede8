"""The site's models: string forms, defaults, relations; and the factories other apps build on."""

import re

import pytest
from django.contrib.auth.models import User

from tests.wiki.factories import (
    AnalyticsEventFactory,
    BlogPostFactory,
    CommentFactory,
    PageFactory,
    SpaceFactory,
    SuperuserFactory,
    UserFactory,
)
from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space

pytestmark = pytest.mark.django_db


def test_user_factory_creates_a_profile_with_a_32_hex_key():
    user = UserFactory(first_name="Zoë", last_name="Müller")
    profile = Profile.objects.get(user=user)
    assert re.fullmatch(r"[0-9a-f]{32}", profile.user_key)
    assert profile.full_name == "Zoë Müller"
    assert str(profile) == "Zoë Müller"
    assert user.check_password("password")


def test_user_keys_are_unique_and_profile_str_falls_back_to_username():
    first, second = UserFactory(), UserFactory()
    assert first.profile.user_key != second.profile.user_key
    first.profile.full_name = ""
    assert str(first.profile) == first.username


def test_user_factory_can_skip_the_profile():
    user = UserFactory(profile=None)
    assert not Profile.objects.filter(user=user).exists()


def test_superuser_factory():
    admin = SuperuserFactory()
    assert admin.is_superuser and admin.is_staff
    assert admin.profile.user_key


def test_space_defaults_and_str():
    space = Space.objects.create(key="DOCS", name="Documentation")
    space.refresh_from_db()
    assert (space.space_type, space.status, space.homepage) == ("global", "current", None)
    assert str(space) == "DOCS (Documentation)"


def test_personal_and_archived_space_factory():
    user = UserFactory(username="jose.garcia", first_name="José", last_name="García")
    space = SpaceFactory(personal=True, archived=True, creator=user)
    assert space.key == "~jose.garcia"
    assert space.name == "José García"
    assert (space.space_type, space.status) == (Space.Type.PERSONAL, Space.Status.ARCHIVED)
    assert space.last_modifier == user


def test_content_defaults_and_str():
    space = SpaceFactory()
    page = Content.objects.create(space=space, title='Release notes, "2026"')
    page.refresh_from_db()
    assert str(page) == 'Release notes, "2026"'
    assert (page.content_type, page.labels, page.version, page.version_comment, page.status) == (
        "page",
        [],
        1,
        None,
        "current",
    )
    assert page.parent is None


def test_page_tree_and_space_homepage():
    home = PageFactory(title="Home")
    child = PageFactory(parent=home, labels=["howto", "café"])
    space = home.space
    space.homepage = home
    space.save()
    child.refresh_from_db()
    assert child.space == space
    assert list(home.children.all()) == [child]
    assert child.labels == ["howto", "café"]
    assert list(space.contents.order_by("pk")) == [home, child]
    assert Space.objects.get(pk=space.pk).homepage == home


def test_blog_post_factory():
    post = BlogPostFactory()
    assert post.content_type == Content.Type.BLOGPOST
    assert post.parent is None
    assert post.creator == post.last_modifier


def test_comment_replies_stay_on_the_parent_page_and_location():
    top = CommentFactory(location=Comment.Location.INLINE)
    reply = CommentFactory(parent=top)
    assert reply.content == top.content
    assert reply.location == Comment.Location.INLINE
    assert list(top.replies.all()) == [reply]
    assert list(top.content.comments.order_by("pk")) == [top, reply]
    assert str(top) == f"Comment {top.pk} on {top.content_id}"
    assert Comment.objects.create(content=top.content).location == "footer"


def test_a_comment_carries_its_page_space_and_follows_the_page_to_another_space():
    comment = CommentFactory()
    page = comment.content
    assert comment.space_id == page.space_id
    other = SpaceFactory()
    page.space = other
    page.save()
    comment.refresh_from_db()
    assert comment.space == other
    assert CommentFactory(content=page).space == other


def test_deleting_a_page_deletes_its_comments_and_deleting_a_user_keeps_the_page():
    comment = CommentFactory()
    page = comment.content
    author = page.creator
    author.delete()
    page.refresh_from_db()
    assert page.creator is None
    page.delete()
    assert not Comment.objects.filter(pk=comment.pk).exists()


def test_analytics_event_factory_fills_space_and_ids_from_the_page():
    page = PageFactory()
    event = AnalyticsEventFactory(page=page)
    assert (event.space, event.container_id, event.content_id) == (page.space, page.pk, page.pk)
    assert str(event) == "page_viewed at 2026-11-01 12:00"


def test_anonymous_analytics_event_without_a_space():
    event = AnalyticsEventFactory(author=None, page=None, name=AnalyticsEvent.Name.ATTACHMENT_VIEWED)
    event.refresh_from_db()
    assert (event.author, event.space, event.container_id) == (None, None, None)
    assert User.objects.count() == 0


def test_factories_build_without_saving():
    comment = CommentFactory.build(parent=CommentFactory.build())
    assert comment.pk is None and comment.content.pk is None
    assert comment.content is comment.parent.content
    assert Content.objects.count() == 0 and User.objects.count() == 0
