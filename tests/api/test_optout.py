"""config/optout: list, add, remove, continueIfNotFound and the count limit."""

from __future__ import annotations

import pytest

from exports.models import AuditEntry
from optout.models import OptOutSpace
from wiki.models import Space

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db
URL = f"{BASE}config/optout"


@pytest.fixture
def spaces(db):
    return [Space.objects.create(key=key, name=f"Space {key}") for key in ("HR", "TEST", "ENG")]


def test_empty_list(api):
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == {"type": "SPACE", "keys": []}


def test_add_as_in_the_anchor_then_remove(api, spaces, superuser):
    response = api.post(f"{ALIAS}config/optout", {"type": "SPACE", "keys": ["HR", "TEST"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"type": "SPACE", "keys": ["HR", "TEST"]}
    assert sorted(OptOutSpace.objects.values_list("space_key", flat=True)) == ["HR", "TEST"]
    # adding again is harmless
    assert api.post(URL, {"type": "SPACE", "keys": ["HR"]}, format="json").json()["keys"] == ["HR", "TEST"]
    # a new export records the opted-out spaces
    assert api.post(f"{BASE}export").json()["optedOutEntities"] == [{"type": "SPACE", "identifiers": ["HR", "TEST"]}]
    removed = api.delete(URL, {"type": "SPACE", "keys": ["HR"]}, format="json")
    assert removed.status_code == 200
    assert removed.json() == {"type": "SPACE", "keys": ["TEST"]}
    assert api.get(URL).json() == {"type": "SPACE", "keys": ["TEST"]}
    audit = [(a.action, a.user, a.via) for a in AuditEntry.objects.filter(action__startswith="optout").order_by("id")]
    assert audit == [("optout.add", superuser, "api")] * 2 + [("optout.remove", superuser, "api")]
    assert AuditEntry.objects.filter(action="optout.remove").get().details["removed"] == ["HR"]


def test_adding_an_unknown_space_is_refused_unless_continue_if_not_found(api, spaces):
    body = assert_error(
        api.post(URL, {"type": "SPACE", "keys": ["HR", "NOPE"]}, format="json"),
        400,
        "optout.key.not.found",
        contains="NOPE",
    )
    assert body["errors"] == [{"key": "optout.key.not.found", "message": "No space with key 'NOPE'."}]
    assert OptOutSpace.objects.count() == 0
    response = api.post(f"{URL}?continueIfNotFound=true", {"type": "SPACE", "keys": ["HR", "NOPE"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"type": "SPACE", "keys": ["HR"]}


def test_removing_a_key_not_on_the_list_is_refused_unless_continue_if_not_found(api, spaces):
    api.post(URL, {"type": "SPACE", "keys": ["HR", "ENG"]}, format="json")
    assert_error(
        api.delete(URL, {"type": "SPACE", "keys": ["HR", "TEST"]}, format="json"),
        400,
        "optout.key.not.found",
        contains="TEST",
    )
    assert api.get(URL).json()["keys"] == ["ENG", "HR"]
    response = api.delete(f"{URL}?continueIfNotFound=true", {"type": "SPACE", "keys": ["HR", "TEST"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"type": "SPACE", "keys": ["ENG"]}


def test_count_limit(api, spaces, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.optout.count.limit": 2}
    api.post(URL, {"type": "SPACE", "keys": ["HR"]}, format="json")
    body = assert_error(
        api.post(URL, {"type": "SPACE", "keys": ["TEST", "ENG"]}, format="json"),
        400,
        "optout.count.limit.exceeded",
        contains="over the limit of 2",
    )
    assert "3 spaces" in body["message"]
    assert api.get(URL).json()["keys"] == ["HR"]
    assert api.post(URL, {"type": "SPACE", "keys": ["TEST"]}, format="json").status_code == 200


@pytest.mark.parametrize("method", ["post", "delete"])
@pytest.mark.parametrize(
    ("body", "key", "contains"),
    [
        ({"type": "PROJECT", "keys": ["HR"]}, "optout.type.invalid", "'PROJECT'"),
        ({"type": "space", "keys": ["HR"]}, "optout.type.invalid", "only supported type is SPACE"),
        ({"keys": ["HR"]}, "request.invalid", "type: This field is required."),
        ({"type": "SPACE"}, "request.invalid", "keys: This field is required."),
        ({"type": "SPACE", "keys": "HR"}, "request.invalid", "keys: Expected a list of items"),
        ({"type": "SPACE", "keys": [["HR"]]}, "request.invalid", "keys: Not a valid string."),
        ({"type": "SPACE", "keys": [""]}, "request.invalid", "keys: This field may not be blank."),
        ({"type": "SPACE", "keys": ["HR"], "extra": 1}, "request.invalid", "extra: Unknown field 'extra'"),
    ],
)
def test_bad_bodies_are_400(api, spaces, method, body, key, contains):
    response = getattr(api, method)(URL, body, format="json")
    assert_error(response, 400, key, contains=contains)
    assert OptOutSpace.objects.count() == 0


def test_malformed_json_and_bad_query_are_400(api, spaces):
    response = api.generic("POST", URL, b'{"type": "SPACE", "keys": [', content_type="application/json")
    assert_error(response, 400, "request.body.malformed", contains="JSON parse error")
    response = api.post(f"{URL}?continueIfNotFound=perhaps", {"type": "SPACE", "keys": ["HR"]}, format="json")
    assert_error(response, 400, "request.invalid", contains="continueIfNotFound")
