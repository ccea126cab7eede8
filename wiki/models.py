"""The collaboration site's data: profiles, spaces, pages and blog posts, comments, analytics events.

Users are Django's ``auth.User``; ``Profile`` adds the stable user key (Confluence's 32-hex
``userKey``) and the full name. Every column of every export schema version reads from here.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_user_key() -> str:
    return uuid.uuid4().hex


def stored_user_key(of: str) -> models.CharField:
    """The key of the user in the row's ``of`` field, stored on the row by PostgreSQL triggers
    (``datapipeline.stored``, migration 0004): the export's COPY path reads it instead of looking it up
    for every row. Not written by the application; NULL on other databases, where nothing reads it."""
    return models.CharField(max_length=32, null=True, blank=True, editable=False, help_text=f"The {of}'s user key.")


class Profile(models.Model):
    """What a site user has beyond ``auth.User``: the stable key exports use, and the full name."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    user_key = models.CharField(max_length=32, unique=True, default=new_user_key, editable=False)
    full_name = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.full_name or self.user.get_username()


class Space(models.Model):
    """A space: global (a team's) or personal (a user's), current or archived."""

    class Type(models.TextChoices):
        GLOBAL = "global", "Global"
        PERSONAL = "personal", "Personal"

    class Status(models.TextChoices):
        CURRENT = "current", "Current"
        ARCHIVED = "archived", "Archived"

    key = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    space_type = models.CharField(max_length=16, choices=Type.choices, default=Type.GLOBAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)
    homepage = models.ForeignKey(
        "Content", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_modifier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.key} ({self.name})"


class Content(models.Model):
    """A page or a blog post; ``body`` is in storage format (XHTML)."""

    class Type(models.TextChoices):
        PAGE = "page", "Page"
        BLOGPOST = "blogpost", "Blog post"

    class Status(models.TextChoices):
        CURRENT = "current", "Current"
        DRAFT = "draft", "Draft"
        TRASHED = "trashed", "Trashed"
        HISTORICAL = "historical", "Historical"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="contents")
    content_type = models.CharField(max_length=16, choices=Type.choices, default=Type.PAGE)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", db_constraint=False
    )
    labels = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    version_comment = models.TextField(blank=True, null=True)  # noqa: DJ001 - NULL means "no comment"
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_modifier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    creator_key = stored_user_key("creator")
    last_modifier_key = stored_user_key("last_modifier")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "page or blog post"
        verbose_name_plural = "pages and blog posts"

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        moved = self.pk is not None
        super().save(*args, **kwargs)
        if moved:  # a page moved to another space takes its comments along (Comment.space)
            self.comments.exclude(space_id=self.space_id).update(space_id=self.space_id)


class Comment(models.Model):
    """A comment on a page or blog post; a reply has a parent comment."""

    class Location(models.TextChoices):
        FOOTER = "footer", "Footer"
        INLINE = "inline", "Inline"

    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="comments")
    # The space of the page commented on, kept equal to content.space (Comment.save, Content.save):
    # the export reads a comment's space without a random read into the large content table.
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+", editable=False)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies", db_constraint=False
    )
    body = models.TextField(blank=True)
    location = models.CharField(max_length=16, choices=Location.choices, default=Location.FOOTER)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_modifier = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    creator_key = stored_user_key("creator")
    last_modifier_key = stored_user_key("last_modifier")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.content_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.content_id is not None:
            self.space_id = self.content.space_id
        super().save(*args, **kwargs)


class AnalyticsEvent(models.Model):
    """Something a user did: viewed, created or updated a page, blog post, comment or attachment."""

    class Name(models.TextChoices):
        PAGE_VIEWED = "page_viewed"
        PAGE_CREATED = "page_created"
        PAGE_UPDATED = "page_updated"
        BLOG_VIEWED = "blog_viewed"
        BLOG_CREATED = "blog_created"
        BLOG_UPDATED = "blog_updated"
        COMMENT_VIEWED = "comment_viewed"
        COMMENT_CREATED = "comment_created"
        COMMENT_UPDATED = "comment_updated"
        ATTACHMENT_VIEWED = "attachment_viewed"
        ATTACHMENT_CREATED = "attachment_created"
        ATTACHMENT_UPDATED = "attachment_updated"

    name = models.CharField(max_length=64, choices=Name.choices)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_key = stored_user_key("author")
    space = models.ForeignKey(
        Space, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    # The page or blog post an event happened in, and the thing it was about (the same page,
    # a comment or an attachment id).
    container_id = models.BigIntegerField(null=True, blank=True)
    content_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "analytics event"

    def __str__(self) -> str:
        return f"{self.name} at {self.created:%Y-%m-%d %H:%M}"
