"""Who may use the API: superuser tokens and admin sessions (with CSRF); everyone else 401/403."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from datapipeline.models import PersonalAccessToken
from exports.models import AuditEntry, ExportJob
from exports.tokens import token_create, token_revoke

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db

PROTECTED = [
    ("get", "export"),
    ("post", "export"),
    ("delete", "export"),
    ("get", "history"),
    ("get", "config/export-path"),
    ("put", "config/export-path"),
    ("delete", "config/export-path"),
    ("get", "config/schema"),
    ("get", "config/optout"),
    ("post", "config/optout"),
    ("delete", "config/optout"),
    ("get", "config/schedule"),
    ("put", "config/schedule"),
    ("delete", "config/schedule"),
]


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_credentials_gets_401_with_bearer_challenge(anonymous, method, path):
    response = getattr(anonymous, method)(f"{BASE}{path}")
    body = assert_error(response, 401, "authentication.required", contains="Authorization: Bearer")
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(body) == {"statusCode", "message", "errors", "timestamp"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_non_superuser_token_gets_403_insufficient_permissions(regular_user, method, path):
    _token, raw = token_create(user=regular_user, name="not allowed")
    response = getattr(bearer(raw), method)(f"{BASE}{path}")
    body = assert_error(response, 403, "permission.denied")
    assert body["message"] == "Insufficient permissions"
    assert ExportJob.objects.count() == 0


def test_unknown_token_gets_401(db):
    response = bearer("dpat_not-a-real-token").get(f"{BASE}export")
    assert_error(response, 401, "authentication.failed", contains="unknown, expired or revoked")


def test_expired_token_gets_401(superuser):
    _token, raw = token_create(user=superuser, name="short", expires_at=timezone.now() + timedelta(hours=1))
    assert bearer(raw).get(f"{BASE}config/schema").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert_error(bearer(raw).get(f"{BASE}config/schema"), 401, "authentication.failed")


def test_revoked_token_gets_401(superuser):
    token, raw = token_create(user=superuser, name="soon revoked")
    assert bearer(raw).get(f"{BASE}config/schema").status_code == 200
    token_revoke(token_id=token.pk)
    assert_error(bearer(raw).get(f"{BASE}config/schema"), 401, "authentication.failed")


def test_token_of_an_inactive_superuser_gets_401(superuser, raw_token):
    superuser.is_active = False
    superuser.save()
    assert_error(bearer(raw_token).get(f"{BASE}config/schema"), 401, "authentication.failed")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer \u00e9t\u00e9"],
)
def test_malformed_bearer_header_gets_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    assert_error(client.get(f"{BASE}export"), 401, "authentication.failed")


def test_only_a_hash_and_the_last_four_are_stored(superuser):
    token, raw = token_create(user=superuser, name="stored")
    assert raw.startswith("dpat_")
    row = PersonalAccessToken.objects.get(pk=token.pk)
    values = [str(v) for v in PersonalAccessToken.objects.filter(pk=token.pk).values().get().values()]
    assert raw not in values
    assert row.last_four == raw[-4:]
    assert len(row.token_hash) == 64


def test_last_used_is_written_at_most_once_a_minute(superuser):
    token, raw = token_create(user=superuser, name="busy")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bearer(raw).get(f"{BASE}config/schema")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        bearer(raw).get(f"{BASE}config/schema")
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        bearer(raw).get(f"{BASE}config/schema")
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_admin_session_reads_without_csrf(client, superuser):
    client.force_login(superuser)
    response = client.get(f"{BASE}config/schema")
    assert response.status_code == 200


def test_admin_session_write_needs_csrf_proof(superuser):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post(f"{BASE}export")
    assert_error(response, 403, "permission.denied", contains="CSRF")
    assert ExportJob.objects.count() == 0
    refused = AuditEntry.objects.get(outcome="refused")
    assert (refused.action, refused.user, refused.details["statusCode"]) == ("export.start", superuser, 403)


def test_admin_session_write_with_atlassian_no_check_header(superuser):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post(f"{BASE}export", HTTP_X_ATLASSIAN_TOKEN="no-check")
    assert response.status_code == 202
    assert response.json()["jobId"] == ExportJob.objects.get().pk


def test_admin_session_write_with_the_csrf_token(superuser):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    client.get("/admin/")  # its logout form sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(f"{BASE}export", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 202


def test_session_of_a_non_superuser_gets_403(regular_user):
    client = APIClient()
    client.force_login(regular_user)
    body = assert_error(client.get(f"{BASE}export"), 403, "permission.denied")
    assert body["message"] == "Insufficient permissions"


def test_ping_is_anonymous_on_both_prefixes(anonymous):
    for base in (BASE, ALIAS):
        response = anonymous.get(f"{base}ping")
        assert response.status_code == 200
        assert response.json() == {"ping": "success"}


def test_ping_ignores_a_bad_token(db):
    assert bearer("dpat_wrong").get(f"{BASE}ping").json() == {"ping": "success"}


def test_refused_write_is_audited_without_a_user(anonymous):
    anonymous.post(f"{BASE}export?fromDate=2026-01-01T00:00:00Z")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.outcome, entry.user, entry.via) == ("export.start", "refused", None, "api")
    assert entry.details["statusCode"] == 401
    assert entry.details["query"] == "fromDate=2026-01-01T00:00:00Z"


def test_refused_reads_are_not_audited(anonymous):
    anonymous.get(f"{BASE}export")
    assert AuditEntry.objects.count() == 0


def test_unknown_url_under_rest_gets_the_error_body(api, anonymous):
    for client in (api, anonymous):
        body = assert_error(
            client.get(f"{BASE}nope"), 404, "resource.not.found", contains="/rest/datapipeline/latest/nope"
        )
        assert set(body) == {"statusCode", "message", "errors", "timestamp"}
    assert_error(api.get("/rest/other"), 404, "resource.not.found")


def test_method_not_allowed_gets_the_error_body(api):
    response = api.patch(f"{BASE}export")
    assert_error(response, 405, "method.not.allowed", contains="PATCH")
