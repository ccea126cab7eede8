"""Personal access tokens (services): create (shown once), authenticate, revoke, state. Only a SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from datapipeline.models import PersonalAccessToken

from .audit import audit_record
from .inputs import check_token_expiry, token_expired, token_expiry

PREFIX = "dpat_"  # makes a leaked token recognisable by secret scanners
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def token_create(
    *,
    user: Any,
    name: str,
    expires_at: datetime | None = None,
    expires_in_days: object = None,
    actor: Any = None,
    via: str = "",
) -> tuple[PersonalAccessToken, str]:
    """Create a token for ``user``; returns the row and the raw token, which is never stored.

    The expiry is ``expires_at`` or ``expires_in_days`` from now (``exports.inputs.token_expiry``);
    neither: never. Recorded in the audit log as done by ``actor`` (None: the server's operator)."""
    if not name or not name.strip():
        raise ValueError("A token needs a name.")
    if expires_in_days is not None:
        expires_at = token_expiry(expires_in_days)
    check_token_expiry(expires_at)
    raw = PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        user=user, name=name.strip(), token_hash=hash_token(raw), last_four=raw[-4:], expires_at=expires_at
    )
    audit_record(
        action="token.create",
        user=actor,
        via=via,
        tokenId=token.pk,
        owner=user.get_username(),
        name=token.name,
        expiresAt=expires_at.isoformat() if expires_at else None,
    )
    return token, raw


def token_authenticate(raw: str) -> PersonalAccessToken | None:
    """Return the active token matching ``raw`` (not revoked, not expired), recording its use."""
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or token_expired(token.expires_at, now):
        return None
    # Written at most once a minute, so a busy script does not write on every request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@transaction.atomic
def token_revoke(*, token_id: int, user: Any = None, via: str = "") -> PersonalAccessToken:
    """Revoke a token (by its owner or a superuser; by the server when ``user`` is None).

    Revoking twice is harmless; a revocation is recorded in the audit log."""
    tokens = PersonalAccessToken.objects.all()
    if user is not None and not user.is_superuser:
        tokens = tokens.filter(user=user)
    token = tokens.get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="token.revoke",
            user=user,
            via=via,
            tokenId=token.pk,
            owner=token.user.get_username(),
            name=token.name,
        )
    return token


def token_state(token: PersonalAccessToken, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``: the one word every screen and command shows."""
    if token.revoked_at:
        return "revoked"
    return "expired" if token_expired(token.expires_at, now or timezone.now()) else "active"


def token_list(*, username: str | None = None, newest_first: bool = True, limit: int | None = None) -> list[Any]:
    """Tokens with their owners (of ``username`` only, when given), newest or oldest first."""
    tokens = PersonalAccessToken.objects.select_related("user")
    tokens = tokens.order_by("-created", "-id") if newest_first else tokens.order_by("id")
    if username:
        tokens = tokens.filter(user__username=username)
    return list(tokens[:limit] if limit else tokens)
