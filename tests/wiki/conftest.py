"""Helpers for the wiki tests: run the demo command, and a digest of every row of the site."""

import hashlib
import io
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space


def site_digest() -> str:
    """SHA-256 over every column of every row of the site's data (superusers excluded), in id order."""
    User = get_user_model()
    digest = hashlib.sha256()
    querysets = [
        User.objects.filter(is_superuser=False),
        Profile.objects.filter(user__is_superuser=False),
        Space.objects.all(),
        Content.objects.all(),
        Comment.objects.all(),
        AnalyticsEvent.objects.all(),
    ]
    for queryset in querysets:
        columns = [f.attname for f in queryset.model._meta.concrete_fields]
        digest.update(queryset.model._meta.label.encode())
        for row in queryset.order_by("pk").values_list(*columns).iterator(chunk_size=2_000):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def demo_data() -> Callable[..., tuple[str, str]]:
    """Run ``manage.py demo_data`` with the given options; returns (stdout, stderr)."""

    def run(*args: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command("demo_data", *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    return run
