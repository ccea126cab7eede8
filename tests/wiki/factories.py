"""Typed factory_boy factories for the site's models; every app's tests may import them.

``UserFactory`` creates the user's ``Profile`` too (as every site user has one). Contents
and comments default to a fresh space and author each; pass ``space=``, ``creator=``,
``content=`` or ``parent=`` to build related rows.
"""

from datetime import UTC, datetime

import factory
from django.contrib.auth.models import User
from factory.django import DjangoModelFactory

from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space

# A fixed time, so rows built without an explicit date still compare predictably.
FACTORY_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class ProfileFactory(DjangoModelFactory[Profile]):
    class Meta:
        model = Profile
        django_get_or_create = ("user",)

    user = factory.SubFactory("tests.wiki.factories.UserFactory", profile=None)
    full_name = factory.LazyAttribute(lambda o: f"{o.user.first_name} {o.user.last_name}".strip())


class UserFactory(DjangoModelFactory[User]):
    """An active site user with a profile (user key and full name); ``profile=None`` skips the profile."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("password")
    is_active = True
    last_login = None
    date_joined = FACTORY_NOW
    profile = factory.RelatedFactory(ProfileFactory, factory_related_name="user")


class SuperuserFactory(UserFactory):
    """A site administrator (may use the Data pipeline screen and REST API)."""

    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class SpaceFactory(DjangoModelFactory[Space]):
    """A current global space; ``personal=True`` makes it ``~<creator's username>``, ``archived=True`` archives it."""

    class Meta:
        model = Space
        django_get_or_create = ("key",)

    class Params:
        personal = factory.Trait(
            space_type=Space.Type.PERSONAL,
            key=factory.LazyAttribute(lambda o: f"~{o.creator.username}"),
            name=factory.LazyAttribute(lambda o: o.creator.profile.full_name or o.creator.username),
        )
        archived = factory.Trait(status=Space.Status.ARCHIVED)

    key = factory.Sequence(lambda n: f"SPACE{n}")
    name = factory.Sequence(lambda n: f"Space {n}")
    space_type = Space.Type.GLOBAL
    status = Space.Status.CURRENT
    creator = factory.SubFactory(UserFactory)
    last_modifier = factory.SelfAttribute("creator")
    created = FACTORY_NOW
    updated = FACTORY_NOW


class ContentFactory(DjangoModelFactory[Content]):
    """A current page (see ``PageFactory`` and ``BlogPostFactory``)."""

    class Meta:
        model = Content

    space = factory.SubFactory(SpaceFactory)
    content_type = Content.Type.PAGE
    title = factory.Sequence(lambda n: f"Page {n}")
    body = factory.LazyAttribute(lambda o: f"<p>{o.title}</p>")
    parent = None
    labels = factory.LazyFunction(list)
    version = 1
    version_comment = None
    status = Content.Status.CURRENT
    creator = factory.SubFactory(UserFactory)
    last_modifier = factory.SelfAttribute("creator")
    created = FACTORY_NOW
    updated = factory.SelfAttribute("created")


class PageFactory(ContentFactory):
    """A current page, top-level unless ``parent=`` (a page of the same space) is given."""

    content_type = Content.Type.PAGE
    space = factory.Maybe("parent", factory.SelfAttribute("parent.space"), factory.SubFactory(SpaceFactory))


class BlogPostFactory(ContentFactory):
    """A current blog post (blog posts have no parent)."""

    content_type = Content.Type.BLOGPOST
    title = factory.Sequence(lambda n: f"Blog post {n}")


class CommentFactory(DjangoModelFactory[Comment]):
    """A footer comment on a new page; a reply when ``parent=`` is given (then on the parent's page)."""

    class Meta:
        model = Comment

    parent = None
    content = factory.Maybe("parent", factory.SelfAttribute("parent.content"), factory.SubFactory(PageFactory))
    body = factory.Sequence(lambda n: f"<p>Comment {n}</p>")
    location = factory.Maybe("parent", factory.SelfAttribute("parent.location"), Comment.Location.FOOTER)
    creator = factory.SubFactory(UserFactory)
    last_modifier = factory.SelfAttribute("creator")
    created = FACTORY_NOW
    updated = factory.SelfAttribute("created")


class AnalyticsEventFactory(DjangoModelFactory[AnalyticsEvent]):
    """A ``page_viewed`` event on a new page (``page=`` picks the page; its space and id fill the event)."""

    class Meta:
        model = AnalyticsEvent

    class Params:
        page = factory.SubFactory(PageFactory)

    name = AnalyticsEvent.Name.PAGE_VIEWED
    created = FACTORY_NOW
    author = factory.SubFactory(UserFactory)
    space = factory.Maybe("page", factory.SelfAttribute("page.space"), None)
    container_id = factory.Maybe("page", factory.SelfAttribute("page.pk"), None)
    content_id = factory.SelfAttribute("container_id")
