"""The admin's token screens (created and shown once, revoked) and the read-only audit log."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from datapipeline.models import PersonalAccessToken
from exports.services import audit_record

from .conftest import BASE

pytestmark = pytest.mark.django_db


def test_create_a_token_in_the_admin_shows_it_once(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/datapipeline/personalaccesstoken/add/",
        {"user": superuser.pk, "name": "from admin", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    raw = re.search(r"<code>(dpat_[A-Za-z0-9_-]+)</code>", page).group(1)
    token = PersonalAccessToken.objects.get()
    assert token.last_four == raw[-4:]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"{BASE}config/schema").status_code == 200
    # never shown again
    change = client.get(f"/admin/datapipeline/personalaccesstoken/{token.pk}/change/").content.decode()
    assert raw not in change
    assert f"dpat_…{raw[-4:]}" in change
    listing = client.get("/admin/datapipeline/personalaccesstoken/").content.decode()
    assert raw not in listing


def test_revoke_action(client, superuser, raw_token):
    client.force_login(superuser)
    token = PersonalAccessToken.objects.get()
    client.post(
        "/admin/datapipeline/personalaccesstoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    assert api.get(f"{BASE}config/schema").status_code == 401


def test_audit_log_is_listed_and_read_only(client, superuser):
    audit_record(action="export.start", user=superuser, via="api", jobId=7)
    client.force_login(superuser)
    page = client.get("/admin/exports/auditentry/").content.decode()
    assert "export.start" in page
    assert "&quot;jobId&quot;: 7" in page
    assert client.get("/admin/exports/auditentry/add/").status_code == 403
