"""The configuration properties of the data pipeline (compatible names), and how to read them.

A property's value comes from, in order: the admin (a ``ConfigProperty`` row), the
environment (the name upper-cased with dots as underscores, e.g.
``PLUGIN_DATA_PIPELINE_OPTOUT_COUNT_LIMIT``), ``settings.DATAPIPELINE_PROPERTIES``, the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_gigabytes(raw: str) -> float:
    """'5', '5GB', '0.5 GB' -> 5.0, 5.0, 0.5; '-1' disables the check."""
    text = raw.strip().upper().removesuffix("GB").strip()
    value = float(text)
    if value < 0 and value != -1:
        raise ValueError(f"expected a size in GB or -1, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError(f"expected a whole number of at least 0, got {raw!r}")
    return value


def parse_non_negative_float(raw: str) -> float:
    value = float(raw.strip())
    if value < 0:
        raise ValueError(f"expected a number of at least 0, got {raw!r}")
    return value


def parse_escape(raw: str) -> str:
    # Stored as typed: the two characters backslash and n stay two characters.
    return raw


@dataclass(frozen=True)
class Property:
    name: str
    default: str
    parse: Callable[[str], Any]
    description: str

    @property
    def env_name(self) -> str:
        return self.name.upper().replace(".", "_")


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in [
        Property(
            "plugin.data.pipeline.embedded.line.break.preserve",
            "false",
            parse_bool,
            "Keep embedded line breaks in the files (true) or replace them with the escape string (false). "
            "Line breaks trouble some tools such as Hadoop.",
        ),
        Property(
            "plugin.data.pipeline.embedded.line.break.escape.char",
            "\\n",
            parse_escape,
            "What replaces each embedded line break (\\r\\n, \\r or \\n) when line breaks are not preserved.",
        ),
        Property(
            "plugin.data.pipeline.minimum.usable.disk.space.after.export",
            "5GB",
            parse_gigabytes,
            "Free space, in GB, the export filesystem must keep before and during an export; -1 disables the check.",
        ),
        Property(
            "plugin.data.pipeline.optout.count.limit",
            "1000",
            parse_non_negative_int,
            "The most spaces the opt-out list may hold.",
        ),
        Property(
            "plugin.data.pipeline.export.batch.size",
            "5000",
            parse_non_negative_int,
            "Rows read from the database per query while exporting.",
        ),
        Property(
            "plugin.data.pipeline.throttle.ratio",
            "1.0",
            parse_non_negative_float,
            "Seconds the export pauses for each second of export work, so the site stays fast; "
            "0 turns the throttle off (a dedicated node or an off-hours run).",
        ),
        Property(
            "plugin.data.pipeline.export.group.readable",
            "false",
            parse_bool,
            "Create export directories 0750 and files 0640 (group may read) instead of the private 0700 and 0600.",
        ),
    ]
}


class UnknownProperty(KeyError):
    pass


def _raw_value(prop: Property, stored: str | None) -> tuple[str, str]:
    """(raw text, where it comes from: admin | env | settings | default)."""
    if stored is not None:
        return stored, "admin"
    if prop.env_name in os.environ:
        return os.environ[prop.env_name], "env"
    configured = getattr(settings, "DATAPIPELINE_PROPERTIES", {})
    if prop.name in configured:
        return str(configured[prop.name]), "settings"
    return prop.default, "default"


def get_property(name: str) -> Any:
    """Return the parsed value of a configuration property, from the first source that sets it."""
    from .models import ConfigProperty

    try:
        prop = PROPERTIES[name]
    except KeyError:
        raise UnknownProperty(name) from None
    stored = ConfigProperty.objects.filter(key=name).values_list("value", flat=True).first()
    raw, _source = _raw_value(prop, stored)
    return prop.parse(raw)


def property_values() -> list[dict[str, Any]]:
    """Every property with its raw value, source, default and description (admin, commands)."""
    from .models import ConfigProperty

    stored = dict(ConfigProperty.objects.values_list("key", "value"))
    values = []
    for prop in PROPERTIES.values():
        raw, source = _raw_value(prop, stored.get(prop.name))
        values.append(
            {
                "name": prop.name,
                "value": raw,
                "source": source,
                "default": prop.default,
                "description": prop.description,
            }
        )
    return values


def property_set(*, name: str, value: str, user: Any = None, via: str = "") -> None:
    """Store a property's value (admin, commands); a value that does not parse raises ValueError."""
    from exports.services import audit_record  # exports depends on this module

    from .models import ConfigProperty

    if name not in PROPERTIES:
        raise UnknownProperty(name)
    PROPERTIES[name].parse(value)
    stored = ConfigProperty.objects.filter(key=name).values_list("value", flat=True).first()
    previous, source = _raw_value(PROPERTIES[name], stored)
    ConfigProperty.objects.update_or_create(key=name, defaults={"value": value})
    audit_record(action="property.set", user=user, via=via, name=name, value=value, previous=previous, source=source)


def property_reset(*, name: str, user: Any = None, via: str = "") -> None:
    """Drop the admin's value of a property: env, settings or the default apply again."""
    from exports.services import audit_record

    from .models import ConfigProperty

    deleted, _ = ConfigProperty.objects.filter(key=name).delete()
    audit_record(action="property.reset", user=user, via=via, name=name, existed=bool(deleted))
