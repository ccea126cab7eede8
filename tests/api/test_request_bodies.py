"""JSON bodies the parser refuses with 4xx and the error body instead of failing: too deep, too large."""

from __future__ import annotations

import pytest

from datapipeline.parsers import json_depth
from exports.models import ExportSchedule
from optout.models import OptOutSpace

from .conftest import BASE, assert_error

pytestmark = pytest.mark.django_db

# Every endpoint that reads a JSON body, with the method that sends it.
JSON_ENDPOINTS = [
    ("PUT", "config/export-path"),
    ("PUT", "config/schedule"),
    ("POST", "config/optout"),
    ("DELETE", "config/optout"),
]


def nested(depth: int) -> bytes:
    return b'{"path":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_deeply_nested_json_is_400_on_every_json_endpoint(api, method, path):
    response = api.generic(method, f"{BASE}{path}", nested(317), content_type="application/json")
    body = assert_error(response, 400, "request.body.malformed", contains="nest 318 deep; the limit is 32")
    assert body["errors"] == [{"key": "request.body.malformed", "message": body["message"]}]
    assert ExportSchedule.objects.count() == 0 and OptOutSpace.objects.count() == 0


def test_nesting_up_to_the_limit_reaches_the_endpoint(api):
    # 32 levels parse; the endpoint then names what is wrong with the value itself.
    depth_32 = b'{"path":' + b"[" * 31 + b"]" * 31 + b"}"
    assert json_depth(depth_32) == 32
    response = api.generic("PUT", f"{BASE}config/export-path", depth_32, content_type="application/json")
    assert_error(response, 400, "request.invalid", contains="path")


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    body = b'{"path": "' + b"[" * 400 + b'\\"{{{"}'
    assert json_depth(body) == 1
    response = api.generic("PUT", f"{BASE}config/export-path", body, content_type="application/json")
    assert response.status_code == 400
    assert "nest" not in response.json()["message"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_a_body_over_the_size_limit_is_413_with_the_error_body(api, settings, method, path):
    body = b'{"path": "' + b"a" * 3_000_000 + b'"}'
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api.generic(method, f"{BASE}{path}", body, content_type="application/json")
    assert_error(response, 413, "request.body.too.large", contains="larger than the limit of 2,621,440 bytes")


def test_a_body_over_the_size_limit_with_a_session_is_413(admin_client, settings):
    body = b'{"keys": ["' + b"a" * 3_000_000 + b'"]}'
    response = admin_client.generic(
        "POST", f"{BASE}config/optout", body, content_type="application/json", HTTP_X_ATLASSIAN_TOKEN="no-check"
    )
    assert_error(response, 413, "request.body.too.large", contains="2,621,440 bytes")
    assert OptOutSpace.objects.count() == 0
