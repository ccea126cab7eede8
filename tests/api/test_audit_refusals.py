"""Refused REST writes in the audit log: a row per signed-in user's attempt; anonymous attempts counted in one
row per client address per minute; no row larger than the cap, whatever the request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from exports.audit import MAX_DETAILS, audit_record
from exports.models import AuditEntry, ExportJob

from .conftest import BASE, assert_error

pytestmark = pytest.mark.django_db


def row_size(row: AuditEntry) -> int:
    return len(json.dumps(row.details, ensure_ascii=False)) + len(row.action) + len(row.via) + len(row.outcome)


def test_ten_anonymous_writes_make_one_counting_row(anonymous):
    for n in range(10):
        method = anonymous.post if n % 2 else anonymous.delete
        assert_error(method(f"{BASE}export"), 401, "authentication.required")
    row = AuditEntry.objects.get()
    assert (row.outcome, row.user, row.via) == ("refused", None, "api")
    assert row.details["anonymous"] is True
    assert row.details["address"] == "127.0.0.1"
    assert row.details["attempts"] == 10
    assert row.details["statusCode"] == 401
    assert ExportJob.objects.count() == 0


def test_anonymous_rows_are_per_address_and_per_minute(db):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
            APIClient(REMOTE_ADDR=address).post(f"{BASE}export")
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        APIClient(REMOTE_ADDR="10.0.0.1").post(f"{BASE}export")
    rows = sorted((r.details["address"], r.details["attempts"]) for r in AuditEntry.objects.all())
    assert rows == [("10.0.0.1", 1), ("10.0.0.1", 2), ("10.0.0.2", 1)]


def test_a_long_unknown_path_is_stored_under_the_cap(anonymous):
    path = "/rest/" + "x" * 3500
    assert_error(anonymous.post(path), 404, "resource.not.found")
    assert_error(anonymous.post(path), 404, "resource.not.found")
    row = AuditEntry.objects.get()
    assert row.details["attempts"] == 2
    assert row.details["path"].startswith("/rest/xxx") and row.details["path"].endswith("(3506 characters)")
    assert len(row.details["path"]) < 600
    assert row_size(row) < MAX_DETAILS


def test_a_signed_in_non_superuser_gets_a_row_per_refused_attempt(regular_user):
    client = APIClient()
    client.force_login(regular_user)
    for _ in range(2):
        assert_error(client.post(f"{BASE}export", HTTP_X_ATLASSIAN_TOKEN="no-check"), 403, "permission.denied")
    rows = list(AuditEntry.objects.all())
    assert len(rows) == 2
    for row in rows:
        assert (row.action, row.outcome, row.user, row.via) == ("export.start", "refused", regular_user, "api")
        assert row.details["statusCode"] == 403
        assert "anonymous" not in row.details


def test_every_audit_row_is_capped(db, superuser):
    audit_record(
        action="a" * 200,
        user=superuser,
        via="v" * 100,
        outcome="o" * 100,
        reason="r" * 100_000,
        keys=[f"KEY{n}" for n in range(10_000)],
        nested={f"k{n}": "x" * 1000 for n in range(100)},
    )
    row = AuditEntry.objects.get()
    assert (len(row.action), len(row.via), len(row.outcome)) == (64, 16, 16)
    assert row_size(row) < MAX_DETAILS + 100
    assert row.details["truncated"] is True and row.details["preview"].startswith('{"reason": "rrr')
    assert row.user == superuser


def test_small_details_are_kept_exactly(db):
    audit_record(action="optout.add", via="api", added=["A", "B"], skipped=[], count=2, note="ok")
    assert AuditEntry.objects.get().details == {"added": ["A", "B"], "skipped": [], "count": 2, "note": "ok"}
