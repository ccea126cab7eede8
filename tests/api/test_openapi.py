"""The OpenAPI document, its self-hosted docs pages, and a property-based fuzz run against it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .conftest import BASE

SCHEMA_URL = "/rest/datapipeline/openapi.json"
OPERATIONS = {
    ("/rest/datapipeline/latest/export", "post"),
    ("/rest/datapipeline/latest/export", "get"),
    ("/rest/datapipeline/latest/export", "delete"),
    ("/rest/datapipeline/latest/history", "get"),
    ("/rest/datapipeline/latest/config/export-path", "get"),
    ("/rest/datapipeline/latest/config/export-path", "put"),
    ("/rest/datapipeline/latest/config/export-path", "delete"),
    ("/rest/datapipeline/latest/config/schema", "get"),
    ("/rest/datapipeline/latest/config/optout", "get"),
    ("/rest/datapipeline/latest/config/optout", "post"),
    ("/rest/datapipeline/latest/config/optout", "delete"),
    ("/rest/datapipeline/latest/ping", "get"),
    ("/rest/datapipeline/latest/config/schedule", "get"),
    ("/rest/datapipeline/latest/config/schedule", "put"),
    ("/rest/datapipeline/latest/config/schedule", "delete"),
}


def test_the_document_lists_every_operation_once(client, db):
    response = client.get(SCHEMA_URL)
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    operations = {(p, m) for p, methods in document["paths"].items() for m in methods if m != "parameters"}
    assert operations == OPERATIONS
    assert all(not p.startswith("/rest/datapipeline/1.0/") for p, _ in operations)
    export_post = document["paths"]["/rest/datapipeline/latest/export"]["post"]
    assert {p["name"] for p in export_post["parameters"]} == {"fromDate", "forceExport", "schemaVersion"}
    assert set(export_post["responses"]) >= {"202", "400", "401", "403", "409", "422"}
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal access token (dpat_...).",
    }
    remove = document["paths"]["/rest/datapipeline/latest/config/optout"]["delete"]
    assert "requestBody" in remove


def test_docs_pages_are_self_hosted(client, db):
    for url in ("/rest/datapipeline/docs/", "/rest/datapipeline/redoc/"):
        page = client.get(url).content.decode()
        assert SCHEMA_URL in page
        assert "cdn" not in page.lower()
        assert "/static/drf_spectacular_sidecar/" in page
    swagger = client.get("/rest/datapipeline/docs/").content.decode()
    asset = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert asset in swagger
    response = client.get(asset)
    assert response.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(response.streaming_content)


@pytest.fixture
def keep_test_transaction() -> Iterator[None]:
    # As Django's test client does: requests must not close the test's open transaction.
    request_started.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)


# Loaded from the project itself (no database needed) and called in-process through WSGI.
schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzz_finds_no_server_error_and_no_answer_outside_the_schema(case, raw_token, keep_test_transaction):
    """Every operation, valid and invalid input: never a 5xx, every answer as documented."""
    case.call_and_validate(
        headers={"Authorization": f"Bearer {raw_token}", "X-Atlassian-Token": "no-check"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
    )


def test_fuzz_covers_the_api(api):
    # Guards the fuzz run above against silently testing nothing.
    assert api.get(f"{BASE}ping").status_code == 200
