"""Personal access tokens: create (shown once), authenticate, revoke. Only a SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import PersonalAccessToken

PREFIX = "dpat_"  # makes a leaked token recognisable by secret scanners
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def token_create(*, user: Any, name: str, expires_at: datetime | None = None) -> tuple[PersonalAccessToken, str]:
    """Create a token for ``user``; returns the row and the raw token, which is never stored."""
    if not name or not name.strip():
        raise ValueError("A token needs a name.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError(f"The expiry {expires_at.isoformat()} is in the past.")
    raw = PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken.objects.create(
        user=user, name=name.strip(), token_hash=hash_token(raw), last_four=raw[-4:], expires_at=expires_at
    )
    return token, raw


def token_authenticate(raw: str) -> PersonalAccessToken | None:
    """Return the live token matching ``raw`` (not revoked, not expired), recording its use."""
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        return None
    # Written at most once a minute, so a busy script does not write on every request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token_id: int, user: Any = None) -> PersonalAccessToken:
    """Revoke a token (by its owner, or anyone when ``user`` is None). Revoking twice is harmless."""
    tokens = PersonalAccessToken.objects.all()
    if user is not None and not user.is_superuser:
        tokens = tokens.filter(user=user)
    token = tokens.get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
