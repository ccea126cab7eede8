"""``format`` in the query string reaches the export API instead of choosing DRF's response renderer."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from exports.tokens import token_create

BASE = "/rest/datapipeline/latest/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-password-123")
    _token, raw = token_create(user=user, name="automation")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize("value", ["parquet", "csv", "nonsense", "json"])
def test_status_with_a_format_parameter_is_the_usual_json_answer(api, value):
    response = api.get(f"{BASE}export?format={value}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}


def test_start_with_a_bad_format_is_refused_by_the_api_not_by_renderer_negotiation(api):
    # DRF's renderer choice answered 404 "Not found."; now the export's own validation answers about ``format``.
    response = api.post(f"{BASE}export?format=nonsense")
    body = response.json()
    assert response.status_code == 400, body
    assert body["statusCode"] == 400
    assert "format" in body["message"], body["message"]
