"""manage.py token create/list/revoke."""

from __future__ import annotations

from datetime import UTC
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from datapipeline.models import PersonalAccessToken

from .conftest import BASE

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_token_once_and_it_works(superuser):
    out, err = run("create", "--user", "admin", "--name", "nightly", "--expires-in-days", "30")
    raw = out.strip()
    assert raw.startswith("dpat_")
    assert "will not be shown again" in err
    token = PersonalAccessToken.objects.get()
    assert (token.name, token.user, token.last_four) == ("nightly", superuser, raw[-4:])
    assert 29 <= (token.expires_at - token.created).days <= 30
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{BASE}config/schema").status_code == 200

    listing, _ = run("list")
    assert raw not in listing
    assert f"…{raw[-4:]}" in listing
    assert "nightly" in listing and "active" in listing

    out, _ = run("revoke", str(token.pk))
    assert "revoked" in out
    assert client.get(f"{BASE}config/schema").status_code == 401
    assert "revoked" in run("list", "--user", "admin")[0]


def test_create_for_a_non_superuser_warns(regular_user):
    _out, err = run("create", "--user", "alice", "--name", "x")
    assert "not a superuser" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--user", "ghost", "--name", "x"), "No user named 'ghost'"),
        (("create", "--user", "admin", "--name", "  "), "needs a name"),
        (("create", "--user", "admin", "--name", "x", "--expires-in-days", "0"), "days from 1 to 3650, got 0"),
        (("revoke", "999"), "No token with id 999"),
    ],
)
def test_command_errors(superuser, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_create_and_revoke_by_command_are_audited(regular_user):
    from exports.models import AuditEntry

    run("create", "--user", "alice", "--name", "cli")
    token = PersonalAccessToken.objects.get()
    run("revoke", str(token.pk))
    rows = list(AuditEntry.objects.order_by("created", "pk").values_list("action", "via", "user", "outcome", "details"))
    assert [row[:4] for row in rows] == [
        ("token.create", "command", None, "ok"),
        ("token.revoke", "command", None, "ok"),
    ]
    assert [(row[4]["tokenId"], row[4]["owner"], row[4]["name"]) for row in rows] == [
        (token.pk, "alice", "cli"),
        (token.pk, "alice", "cli"),
    ]


def test_create_and_list_write_times_in_utc_with_z(superuser, settings):
    settings.TIME_ZONE = "Europe/Paris"
    _out, err = run("create", "--user", "admin", "--name", "nightly", "--expires-in-days", "30")
    token = PersonalAccessToken.objects.get()
    expires = token.expires_at.astimezone(UTC)
    assert f"expires {expires.isoformat(timespec='seconds').replace('+00:00', 'Z')}." in err
    listing, _ = run("list")
    assert f" {expires.strftime('%Y-%m-%dT%H:%M')}Z " in listing
    assert "+00:00" not in err + listing and "+01:00" not in err + listing
