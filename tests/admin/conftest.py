"""Fixtures of the admin tests: a small site, users with and without superuser rights, URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from exports.models import ExportJob, JobStatus
from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space


def make_site(*, spaces: int = 2, pages_per_space: int = 3, prefix: str = "SP") -> list[Space]:
    """A small site: one author, ``spaces`` spaces named '<prefix><n>' with pages, a comment and an event each."""
    User = get_user_model()
    author, created = User.objects.get_or_create(
        username=f"author-{prefix.lower()}", defaults={"email": "a@example.com"}
    )
    if created:
        Profile.objects.create(user=author, full_name=f"Author {prefix}")
    made = []
    for n in range(1, spaces + 1):
        space = Space.objects.create(key=f"{prefix}{n}", name=f"Space {prefix} number {n}", creator=author)
        for p in range(pages_per_space):
            page = Content.objects.create(
                space=space, title=f"Page {p} of {space.key}", body="<p>x</p>", creator=author
            )
            Comment.objects.create(content=page, body="A comment", creator=author)
            AnalyticsEvent.objects.create(name="page_viewed", author=author, space=space)
        made.append(space)
    return made


def make_job(**fields) -> ExportJob:
    now = timezone.now()
    defaults = {
        "status": JobStatus.COMPLETED,
        "node_id": "node-a",
        "trigger": "admin",
        "start_time": now - timedelta(minutes=2),
        "completed_time": now - timedelta(minutes=1),
        "schema_version": 2,
        "export_from": now - timedelta(days=365),
        "root_export_path": "/tmp/unused",
        "statistics": {"exportedEntities": 5, "writtenRows": 42, "entities": {}},
    }
    defaults.update(fields)
    if defaults["status"] in (JobStatus.STARTED, JobStatus.CANCELLATION_REQUESTED):
        defaults["completed_time"] = None
    return ExportJob.objects.create(**defaults)


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff user who is not a superuser, with every permission of the exports app."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="staff", password="pw-staff-123", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["exports", "optout", "datapipeline"])
    )
    client.force_login(user)
    return client


@pytest.fixture
def pipeline_url():
    return reverse("admin:exports_exportjob_changelist")


def screen_urls(job_id: int, token_id: int) -> list[str]:
    """Every URL of the Data pipeline screen."""
    return [
        reverse("admin:exports_exportjob_changelist"),
        reverse("admin:datapipeline_start"),
        reverse("admin:datapipeline_progress"),
        reverse("admin:datapipeline_details", args=[job_id]),
        reverse("admin:datapipeline_cancel", args=[job_id]),
        reverse("admin:datapipeline_schedule"),
        reverse("admin:datapipeline_optout"),
        reverse("admin:datapipeline_export_path"),
        reverse("admin:datapipeline_properties"),
        reverse("admin:datapipeline_tokens"),
        reverse("admin:datapipeline_token_revoke", args=[token_id]),
        reverse("admin:exports_exportjob_change", args=[job_id]),
    ]
