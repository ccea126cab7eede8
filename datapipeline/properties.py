"""The configuration properties of the data pipeline (compatible names), and how to read them.

A property's value comes from, in order: the admin (a ``ConfigProperty`` row), the
environment (the name upper-cased with dots as underscores, e.g.
``PLUGIN_DATA_PIPELINE_OPTOUT_COUNT_LIMIT``), ``settings.DATAPIPELINE_PROPERTIES``, the default.
A value from any source that does not parse (a bad environment variable, say) is logged as an
error and the property's default applies, so a typo never switches a guard off or stops exports.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_finite_float(raw: str) -> float:
    """A number; nan, inf and values too large for a float (1e400) are refused: they would disable any guard."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw.strip()!r}")
    return value


def parse_gigabytes(raw: str) -> float:
    """'5', '5GB', '0.5 GB' -> 5.0, 5.0, 0.5; '-1' disables the check."""
    text = raw.strip()
    if text.upper().endswith("GB"):
        text = text[:-2].strip()
    value = parse_finite_float(text)
    if value < 0 and value != -1:
        raise ValueError(f"expected a size in GB or -1, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw.strip())
    if value < 0:
        raise ValueError(f"expected a whole number of at least 0, got {raw!r}")
    return value


def parse_non_negative_float(raw: str) -> float:
    value = parse_finite_float(raw.strip())
    if value < 0:
        raise ValueError(f"expected a number of at least 0, got {raw!r}")
    return value


def parse_throttle(raw: str) -> float | str:
    """'adaptive' (follow the site's latency) or a fixed ratio of at least 0 (0: no throttle)."""
    if raw.strip().lower() == "adaptive":
        return "adaptive"
    try:
        float(raw)
    except ValueError:
        raise ValueError(f"expected adaptive, or a number of at least 0, got {raw!r}") from None
    return parse_non_negative_float(raw)


def parse_parquet_compression(raw: str) -> str:
    """'zstd' (smaller files) or 'snappy' (for readers that cannot decompress zstd); case-insensitive."""
    value = raw.strip().lower()
    if value not in {"zstd", "snappy"}:
        raise ValueError(f"expected zstd or snappy, got {raw!r}")
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
            "adaptive",
            parse_throttle,
            "How the export leaves room for the site. adaptive: pause only while the site's own requests "
            "are slower during the export's work than during its pauses, as much as it takes (no pause on an idle "
            "site). A number: pause that many seconds for each second of export work. 0 turns the throttle off "
            "(a dedicated node or an off-hours run).",
        ),
        Property(
            "plugin.data.pipeline.parquet.compression",
            "zstd",
            parse_parquet_compression,
            "How Parquet files are compressed: zstd (smaller files, read by current Spark, DuckDB, pandas and "
            "Power BI) or snappy (for older readers that cannot decompress zstd). CSV files are not compressed.",
        ),
        Property(
            "plugin.data.pipeline.export.group.readable",
            "false",
            parse_bool,
            "Create export directories 0750 and files 0640 (group may read) instead of the private 0700 and 0600.",
        ),
        Property(
            "plugin.data.pipeline.incremental.lookback.seconds",
            "300",
            parse_non_negative_int,
            "An incremental export counts changes from its base export's start minus this many seconds, so a "
            "row committed late (stamped before the base started) is never lost; such a row may then appear in "
            "two consecutive exports.",
        ),
        Property(
            "plugin.data.pipeline.incremental.reconcile.every",
            "0",
            parse_non_negative_int,
            "Every this many incremental exports in a chain, compare the keys of the chain's files with the keys "
            "the site holds and report those gone around the change log (a TRUNCATE, triggers disabled) as "
            "deleted. 0: only when asked (export_start --reconcile).",
        ),
        Property(
            "plugin.data.pipeline.incremental.reconcile.max.deleted.share",
            "0.05",
            parse_non_negative_float,
            "A reconciliation that finds more than this share of a dataset's keys gone without a change-log "
            "record fails the export, unless forceExport (then they are reported and the job warns).",
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
    raw, source = _raw_value(prop, stored)
    problem = _problem(prop, raw, source)
    if problem is None:
        return prop.parse(raw)
    log.error("Configuration property %s: %s.", name, problem)
    return prop.parse(prop.default)


def _problem(prop: Property, raw: str, source: str) -> str | None:
    """Why a value from the admin, env or settings is not used (it does not parse), else None."""
    if source == "default":
        return None
    try:
        prop.parse(raw)
    except ValueError as exc:
        return f"the value {raw!r} from {source} is invalid ({exc}); its default {prop.default!r} applies"
    return None


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
                "problem": _problem(prop, raw, source),
            }
        )
    return values


def property_source(name: str) -> tuple[str, str]:
    """A property's raw value now and where it comes from (``admin``, ``env``, ``settings``, ``default``)."""
    from .models import ConfigProperty

    stored = ConfigProperty.objects.filter(key=name).values_list("value", flat=True).first()
    return _raw_value(PROPERTIES[name], stored)
