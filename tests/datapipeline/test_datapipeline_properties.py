"""Configuration properties: compatible names and defaults, and where a value comes from."""

from __future__ import annotations

import pytest

from datapipeline.properties import PROPERTIES, UnknownProperty, get_property, property_values
from exports.configuration import property_reset, property_set


def test_compatible_names_and_defaults(db):
    assert get_property("plugin.data.pipeline.embedded.line.break.preserve") is False
    assert get_property("plugin.data.pipeline.embedded.line.break.escape.char") == "\\n"  # two characters
    assert len(get_property("plugin.data.pipeline.embedded.line.break.escape.char")) == 2
    assert get_property("plugin.data.pipeline.minimum.usable.disk.space.after.export") == 5.0
    assert get_property("plugin.data.pipeline.optout.count.limit") == 1000
    assert {
        "plugin.data.pipeline.embedded.line.break.preserve",
        "plugin.data.pipeline.embedded.line.break.escape.char",
        "plugin.data.pipeline.minimum.usable.disk.space.after.export",
        "plugin.data.pipeline.optout.count.limit",
    } <= set(PROPERTIES)


def test_admin_value_beats_env_beats_settings_beats_default(db, settings, monkeypatch):
    name = "plugin.data.pipeline.optout.count.limit"
    settings.DATAPIPELINE_PROPERTIES = {name: 30}
    assert get_property(name) == 30
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_OPTOUT_COUNT_LIMIT", "20")
    assert get_property(name) == 20
    property_set(name=name, value="10")
    assert get_property(name) == 10
    assert next(p for p in property_values() if p["name"] == name)["source"] == "admin"
    property_reset(name=name)
    assert get_property(name) == 20
    assert next(p for p in property_values() if p["name"] == name)["source"] == "env"


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("plugin.data.pipeline.minimum.usable.disk.space.after.export", "5GB", 5.0),
        ("plugin.data.pipeline.minimum.usable.disk.space.after.export", "0.5 GB", 0.5),
        ("plugin.data.pipeline.minimum.usable.disk.space.after.export", "-1", -1.0),
        ("plugin.data.pipeline.embedded.line.break.preserve", "TRUE", True),
        ("plugin.data.pipeline.embedded.line.break.escape.char", "<br>", "<br>"),
    ],
)
def test_values_parse(db, name, raw, value):
    property_set(name=name, value=raw)
    assert get_property(name) == value


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("plugin.data.pipeline.minimum.usable.disk.space.after.export", "-2"),
        ("plugin.data.pipeline.minimum.usable.disk.space.after.export", "lots"),
        ("plugin.data.pipeline.embedded.line.break.preserve", "maybe"),
        ("plugin.data.pipeline.optout.count.limit", "-1"),
    ],
)
def test_bad_values_are_refused_and_not_stored(db, name, raw):
    with pytest.raises(ValueError):
        property_set(name=name, value=raw)
    assert next(p for p in property_values() if p["name"] == name)["source"] == "default"


def test_unknown_property(db):
    with pytest.raises(UnknownProperty):
        get_property("plugin.data.pipeline.nope")
    with pytest.raises(UnknownProperty):
        property_set(name="plugin.data.pipeline.nope", value="1")
