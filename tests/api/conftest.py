"""Fixtures for the REST API tests: users, tokens, authenticated clients, error-body checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from exports.tokens import token_create

BASE = "/rest/datapipeline/latest/"
ALIAS = "/rest/datapipeline/1.0/"


@pytest.fixture
def superuser(db: Any) -> Any:
    return get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-password-123")


@pytest.fixture
def regular_user(db: Any) -> Any:
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-password-123")


@pytest.fixture
def raw_token(superuser: Any) -> str:
    _token, raw = token_create(user=superuser, name="automation")
    return raw


@pytest.fixture
def api(raw_token: str) -> APIClient:
    """A client authenticated with a superuser's personal access token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def assert_error(response: Any, status: int, key: str, *, contains: str = "") -> dict[str, Any]:
    """Check the one error body field by field; returns it for further checks."""
    body = response.json()
    assert response.status_code == status, body
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert contains in body["message"], body["message"]
    assert isinstance(body["errors"], list) and body["errors"], body
    for item in body["errors"]:
        assert set(item) == {"key", "message"}
        assert item["message"]
    assert key in [e["key"] for e in body["errors"]], body["errors"]
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None
    return body
