"""The opt-out list services: add, remove, list, unknown keys and the configured limit."""

from __future__ import annotations

import pytest

from datapipeline.errors import InvalidParameter
from optout.models import OptOutSpace
from optout.services import OptOutChange, optout_add, optout_list, optout_remove
from wiki.models import Space


@pytest.fixture
def spaces(db) -> list[str]:
    keys = ["ENG", "HR", "OPS", "~alice"]
    Space.objects.bulk_create([Space(key=k, name=k) for k in keys])
    return keys


def test_add_list_remove(spaces):
    assert optout_list() == []
    assert optout_add(keys=["OPS", "ENG", "OPS"]) == OptOutChange(
        processed=["OPS", "ENG"], not_found=[], listed=["ENG", "OPS"]
    )
    assert optout_add(keys=["ENG"]).listed == ["ENG", "OPS"]  # already there: no duplicate
    assert optout_remove(keys=["OPS"]) == OptOutChange(processed=["OPS"], not_found=[], listed=["ENG"])
    assert optout_list() == ["ENG"]


def test_unknown_space_refuses_the_whole_request_unless_told_to_continue(spaces):
    with pytest.raises(InvalidParameter) as caught:
        optout_add(keys=["ENG", "NOPE"])
    assert "NOPE" in caught.value.message
    assert caught.value.errors == [{"key": "optout.key.not.found", "message": "No space with key 'NOPE'."}]
    assert optout_list() == []
    assert optout_add(keys=["ENG", "NOPE"], continue_if_not_found=True) == OptOutChange(
        processed=["ENG"], not_found=["NOPE"], listed=["ENG"]
    )


def test_removing_a_key_not_listed(spaces):
    optout_add(keys=["ENG"])
    with pytest.raises(InvalidParameter, match="Not on the opt-out list: HR"):
        optout_remove(keys=["ENG", "HR"])
    assert optout_list() == ["ENG"]
    assert optout_remove(keys=["ENG", "HR"], continue_if_not_found=True) == OptOutChange(
        processed=["ENG"], not_found=["HR"], listed=[]
    )


def test_only_the_space_type_is_supported(spaces):
    with pytest.raises(InvalidParameter, match="Unsupported opt-out type 'PROJECT'"):
        optout_add(keys=["ENG"], entity_type="PROJECT")
    with pytest.raises(InvalidParameter, match="non-empty strings, got ''"):
        optout_add(keys=[""])


def test_the_limit_is_honoured(spaces, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.optout.count.limit": "2"}
    optout_add(keys=["ENG", "HR"])
    with pytest.raises(InvalidParameter) as caught:
        optout_add(keys=["OPS"])
    assert "over the limit of 2" in caught.value.message
    assert "plugin.data.pipeline.optout.count.limit" in caught.value.message
    assert caught.value.key == "optout.count.limit.exceeded"
    assert OptOutSpace.objects.count() == 2
    assert optout_add(keys=["HR"]).listed == ["ENG", "HR"]  # re-adding a listed key is not over the limit
    with pytest.raises(InvalidParameter, match="would hold 3 spaces"):
        optout_remove(keys=["ENG"]) and optout_add(keys=["OPS", "~alice"])
    assert optout_list() == ["HR"]


def test_a_request_over_the_limit_adds_nothing(spaces, settings):
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.optout.count.limit": "3"}
    with pytest.raises(InvalidParameter, match="would hold 4 spaces, over the limit of 3"):
        optout_add(keys=spaces)
    assert optout_list() == []
