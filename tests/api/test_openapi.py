"""The OpenAPI document, its self-hosted docs pages, and a property-based fuzz run against it."""

from __future__ import annotations

import json
import re
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
    ("/rest/datapipeline/latest/config/schema/{version}", "get"),
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
    assert {p["name"] for p in export_post["parameters"]} == {
        "fromDate",
        "forceExport",
        "schemaVersion",
        "mode",
        "format",
    }
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
    # The bundle's name carries its content hash once collectstatic has run (the install step runs it).
    found = re.search(
        r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle(\.[0-9a-f]{12})?\.js", swagger
    )
    assert found, swagger
    response = client.get(found.group(0))
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


def _document(client) -> dict:
    return json.loads(client.get(SCHEMA_URL).content)


def _parameter(document: dict, path: str, method: str, name: str) -> dict:
    operation = document["paths"][f"/rest/datapipeline/latest/{path}"][method]
    return next(p for p in operation["parameters"] if p["name"] == name)["schema"]


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema or ("allOf" in schema and len(schema["allOf"]) == 1):
        schema = schema["allOf"][0] if "allOf" in schema else schema
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_states_every_rule_the_server_enforces(client, db):
    document = _document(client)
    schemas = document["components"]["schemas"]
    assert _parameter(document, "history", "get", "offset") == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert _parameter(document, "history", "get", "limit") == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert _parameter(document, "export", "delete", "jobId") == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert _parameter(document, "export", "post", "schemaVersion") == {"type": "integer", "enum": [1, 2]}
    assert _parameter(document, "export", "post", "fromDate") == {"type": "string", "format": "date-time"}

    optout = schemas["OptOutInputRequest"]
    assert optout["additionalProperties"] is False
    assert _resolve(document, optout["properties"]["type"])["enum"] == ["SPACE"]
    assert optout["properties"]["keys"]["maxItems"] == 10_000

    schedule = schemas["ScheduleInputRequest"]
    assert schedule["additionalProperties"] is False
    assert set(schedule["required"]) == {"days", "repeatIntervalInWeeks", "time"}
    days = schedule["properties"]["days"]
    assert (days["minItems"], days["maxItems"]) == (1, 7)
    day = re.compile(days["items"]["pattern"])
    for accepted in ("mon", "MON", "Thu", "monday", "MONDAY", "Thursday", "sUnDaY"):
        assert day.search(accepted), accepted
    for refused in ("mo", "mond", "thurs", "funday", " mon", "monday "):
        assert not day.search(refused), refused
    time = re.compile(schedule["properties"]["time"]["pattern"])
    assert all(time.search(t) for t in ("02:30", "02:30:59", "23:59", "00:00:00"))
    assert not any(time.search(t) for t in ("2:30", "24:00", "02:60", "02:30:60", "02:30:0", " 02:30"))
    weeks = schedule["properties"]["repeatIntervalInWeeks"]
    assert (weeks["type"], weeks["minimum"], weeks["maximum"]) == ("integer", 1, 52)
    assert _resolve(document, schedule["properties"]["schemaVersion"])["enum"] == [1, 2]
    assert schedule["properties"]["fromDate"]["format"] == "date-time"

    path = schemas["ExportPathInputRequest"]
    assert path["additionalProperties"] is False
    assert path["properties"]["path"]["pattern"] == "^/[^\\u0000]*$"


def test_the_document_gives_the_new_answers(client, db):
    document = _document(client)
    schemas = document["components"]["schemas"]
    paths = document["paths"]
    export_get = paths["/rest/datapipeline/latest/export"]["get"]["responses"]
    assert set(export_get) == {"200", "400", "401", "403", "413", "414"}
    nothing = {"type": "object", "additionalProperties": False, "maxProperties": 0}
    for name, shape in (("JobOrNothing", "Job"), ("ScheduleOrNothing", "Schedule")):
        one_of = [_resolve(document, s) for s in schemas[name]["oneOf"]]
        assert one_of == [schemas[shape], nothing]
    schedule = paths["/rest/datapipeline/latest/config/schedule"]
    assert "content" not in schedule["put"]["responses"]["202"]
    assert "content" not in schedule["delete"]["responses"]["200"]
    assert "200" not in schedule["put"]["responses"] and "204" not in schedule["delete"]["responses"]
    entity = schemas["OptOutEntity"]
    assert set(entity["required"]) == {"type", "identifier", "key", "displayName", "uri"}
    assert schemas["OptOutList"]["properties"]["optedOutEntities"]["items"] == {
        "$ref": "#/components/schemas/OptOutEntity"
    }
    change = schemas["OptOutChange"]["properties"]
    assert change["entitiesProcessed"]["items"] == {"$ref": "#/components/schemas/OptOutEntity"}
    assert change["entitiesNotFound"]["nullable"] is True
    error = {"$ref": "#/components/schemas/Error"}
    for method in ("post", "delete"):
        responses = paths["/rest/datapipeline/latest/config/optout"][method]["responses"]
        assert responses["400"]["content"]["application/json"]["schema"] == error
        assert responses["413"]["content"]["application/json"]["schema"] == error
    assert set(schemas["Error"]["required"]) == {"statusCode", "message", "errors", "timestamp"}
