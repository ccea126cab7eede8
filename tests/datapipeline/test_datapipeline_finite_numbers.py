"""Numeric properties take finite numbers only: nan, inf or 1e400 would switch the disk guard or the throttle off."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from datapipeline.models import ConfigProperty
from datapipeline.properties import get_property, property_values
from exports.configuration import property_set

DISK = "plugin.data.pipeline.minimum.usable.disk.space.after.export"
THROTTLE = "plugin.data.pipeline.throttle.ratio"
FLOAT_PROPERTIES = [DISK, THROTTLE]
NON_FINITE = ["nan", "inf", "-inf", "1e400", "-1e400"]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "raw"), [(n, r) for n in FLOAT_PROPERTIES for r in NON_FINITE] + [(DISK, "NaN GB")])
def test_service_refuses_non_finite_numbers(name, raw):
    with pytest.raises(ValueError, match="expected a finite number"):
        property_set(name=name, value=raw)
    assert ConfigProperty.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e400"])
def test_command_refuses_non_finite_numbers_naming_the_value(raw):
    # "--" lets a value that starts with a dash through as the value, as a shell user types it.
    with pytest.raises(CommandError, match=f"'{raw}' is not a valid value for {DISK}: expected a finite number"):
        call_command("pipeline_config", "set", DISK, "--", raw, stdout=StringIO())
    assert ConfigProperty.objects.count() == 0
    assert get_property(DISK) == 5.0


@pytest.mark.django_db
def test_admin_configuration_screen_marks_non_finite_numbers(admin_client):
    data = {item["name"]: item["value"] for item in property_values()} | {DISK: "nan", THROTTLE: "1e400"}
    response = admin_client.post(reverse("admin:datapipeline_properties"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert f"&#x27;nan&#x27; is not a valid value for {DISK}: expected a finite number" in body
    assert f"&#x27;1e400&#x27; is not a valid value for {THROTTLE}: expected a finite number" in body
    assert ConfigProperty.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["nan", "inf", "1e400"])
def test_non_finite_environment_override_falls_back_to_the_default_with_a_logged_error(monkeypatch, caplog, raw):
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_MINIMUM_USABLE_DISK_SPACE_AFTER_EXPORT", raw)
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_THROTTLE_RATIO", raw)
    with caplog.at_level(logging.ERROR, logger="datapipeline.properties"):
        assert get_property(DISK) == 5.0
        assert get_property(THROTTLE) == "adaptive"
    messages = [r.getMessage() for r in caplog.records]
    assert (
        f"Configuration property {DISK}: the value {raw!r} from env is invalid (expected a finite number, got "
        f"{raw!r}); its default '5GB' applies." in messages
    )
    assert any(THROTTLE in m and "its default 'adaptive' applies" in m for m in messages)


@pytest.mark.django_db
def test_a_bad_value_stored_before_the_rule_falls_back_to_the_default(caplog):
    ConfigProperty.objects.create(key=DISK, value="nan")  # as an older version accepted it
    with caplog.at_level(logging.ERROR, logger="datapipeline.properties"):
        assert get_property(DISK) == 5.0
    assert "from admin" in caplog.records[0].getMessage()


@pytest.mark.django_db
def test_finite_numbers_still_parse():
    property_set(name=DISK, value="1e-3 GB")
    property_set(name=THROTTLE, value="2.5")
    assert get_property(DISK) == 0.001
    assert get_property(THROTTLE) == 2.5


@pytest.mark.django_db
def test_list_and_the_admin_say_when_an_environment_value_is_not_used(monkeypatch, admin_client):
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_MINIMUM_USABLE_DISK_SPACE_AFTER_EXPORT", "nan")
    out, err = StringIO(), StringIO()
    call_command("pipeline_config", "list", stdout=out, stderr=err)
    assert f"{DISK} = nan  (env)" in out.getvalue()
    assert err.getvalue() == (
        "  not used: the value 'nan' from env is invalid (expected a finite number, got 'nan'); "
        "its default '5GB' applies.\n"
    )
    body = admin_client.get(reverse("admin:datapipeline_properties")).content.decode()
    row = body[body.index(f'data-property="{DISK}"') :].split("</tr>")[0]
    assert "Not used: the value &#x27;nan&#x27; from env is invalid" in row
    assert 'data-field="problem"' not in body.replace(row, "")  # only the bad property is marked
