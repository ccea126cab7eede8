"""The admin's token screens (created and shown once, revoked) and the read-only audit log."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from datapipeline.models import PersonalAccessToken
from exports.audit import audit_record
from exports.models import AuditEntry
from exports.tokens import token_create

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


TOKEN_ADMIN = "/admin/datapipeline/personalaccesstoken/"


@pytest.fixture
def staff_with_token_permissions(django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("staff", "staff@example.com", "staff-password-123", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__model="personalaccesstoken"))
    assert {p.split(".")[1] for p in staff.get_all_permissions()} >= {
        "add_personalaccesstoken",
        "change_personalaccesstoken",
        "delete_personalaccesstoken",
        "view_personalaccesstoken",
    }
    return staff


def test_staff_with_every_token_permission_reaches_no_token_admin_url(client, superuser, staff_with_token_permissions):
    token, _raw = token_create(user=superuser, name="the superuser's")
    client.force_login(staff_with_token_permissions)
    urls = [
        TOKEN_ADMIN,
        f"{TOKEN_ADMIN}add/",
        f"{TOKEN_ADMIN}{token.pk}/change/",
        f"{TOKEN_ADMIN}{token.pk}/delete/",
        f"{TOKEN_ADMIN}{token.pk}/history/",
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    # The attack: create a token for the superuser through the add form.
    response = client.post(
        f"{TOKEN_ADMIN}add/", {"user": superuser.pk, "name": "stolen", "expires_at_0": "", "expires_at_1": ""}
    )
    assert response.status_code == 403
    assert "dpat_" not in response.content.decode()
    response = client.post(TOKEN_ADMIN, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 403
    assert list(PersonalAccessToken.objects.values_list("name", "revoked_at")) == [("the superuser's", None)]
    # Neither the index nor the app page lists the token admin.
    assert TOKEN_ADMIN not in client.get("/admin/").content.decode()
    assert client.get("/admin/datapipeline/").status_code in (403, 404)


def test_superuser_add_form_has_no_owner_and_the_token_is_theirs(client, superuser, regular_user):
    client.force_login(superuser)
    form = client.get(f"{TOKEN_ADMIN}add/").content.decode()
    assert 'name="name"' in form
    assert 'name="user"' not in form
    response = client.post(
        f"{TOKEN_ADMIN}add/",
        {"user": regular_user.pk, "name": "mine", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = PersonalAccessToken.objects.get()
    assert token.user == superuser
    entry = AuditEntry.objects.get(action="token.create")
    assert (entry.user, entry.via, entry.outcome) == (superuser, "admin", "ok")
    assert entry.details["tokenId"] == token.pk
    assert entry.details["owner"] == "admin"
    assert entry.details["name"] == "mine"


def test_revoke_action_goes_through_the_service_and_is_audited(client, superuser):
    token, _raw = token_create(user=superuser, name="old")
    client.force_login(superuser)
    client.post(TOKEN_ADMIN, {"action": "revoke", "_selected_action": [token.pk]})
    entry = AuditEntry.objects.get(action="token.revoke")
    assert (entry.user, entry.via, entry.details["tokenId"]) == (superuser, "admin", token.pk)
    # Revoking again records nothing new: the token was already revoked.
    client.post(TOKEN_ADMIN, {"action": "revoke", "_selected_action": [token.pk]})
    assert AuditEntry.objects.filter(action="token.revoke").count() == 1
