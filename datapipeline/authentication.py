"""REST authentication: personal access tokens (Bearer) and the admin session (CSRF applies)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header

from exports.tokens import token_authenticate


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <token>`` against the hashed personal access tokens.

    Returns None when no Bearer header is sent (so the session may authenticate), raises
    AuthenticationFailed (401) for an unknown, expired or revoked token.
    """

    keyword = "bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>' with one token and no spaces in it."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token: it contains non-ASCII characters.") from None
        token = token_authenticate(raw)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token: it is unknown, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        # A value here makes DRF answer 401 (not 403) when no credentials were sent.
        return "Bearer"


class AtlassianSessionAuthentication(SessionAuthentication):
    """The admin's session; unsafe methods need CSRF proof, and ``X-Atlassian-Token: no-check`` is one.

    A cross-site form cannot set a custom header (a browser preflights it), so the header
    proves the request was not forged, exactly as in Atlassian's Data pipeline.
    """

    def enforce_csrf(self, request: Any) -> None:
        if request.headers.get("X-Atlassian-Token", "").strip().lower() == "no-check":
            return
        super().enforce_csrf(request)
