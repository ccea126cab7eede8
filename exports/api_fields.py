"""Input fields of the export REST views that document, in the OpenAPI document, the rules the
services enforce (ranges, enums, patterns); the services still check every value and name it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datapipeline.schema import VERSIONS

from .inputs import DAY_PATTERN, TIME_PATTERN

SCHEMA_VERSION_VALUES = sorted(v.version for v in VERSIONS)


@extend_schema_field({"type": "integer", "enum": SCHEMA_VERSION_VALUES})
class SchemaVersionField(serializers.IntegerField):
    """A schema version number; the service names the supported ones when it is not."""


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "pattern": DAY_PATTERN}, "minItems": 1, "maxItems": 7}
)
class WeekdaysField(serializers.ListField):
    """The schedule's days, read by ``exports.inputs.parse_days``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(trim_whitespace=False), max_length=7, **kwargs)


@extend_schema_field({"type": "string", "pattern": TIME_PATTERN})
class TimeOfDayField(serializers.CharField):
    """The schedule's time, read by ``exports.inputs.parse_time``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


@extend_schema_field({"type": "string", "format": "date-time"})
class DateTimeTextField(serializers.CharField):
    """A date-time kept as text: the service parses it and names the value when it cannot."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


@extend_schema_field({"type": "string", "pattern": "^/[^\\u0000]*$"})
class AbsolutePathField(serializers.CharField):
    """A path as typed; the export path service checks it and names the rule it breaks."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


def bounded_integer(low: int, high: int) -> type[serializers.IntegerField]:
    """An integer field documented as ``low..high``; the service refuses other values, naming the field."""
    return extend_schema_field({"type": "integer", "minimum": low, "maximum": high})(
        type(f"Integer{low}To{high}", (serializers.IntegerField,), {})
    )


def any_case(values: Sequence[str], *, allow_empty: bool = False) -> dict[str, Any]:
    """OpenAPI schema of a text accepted in any case, one of ``values`` (``csv``, ``Parquet``, ...): a pattern,
    since an enum would call ``CSV`` invalid."""
    letters = ("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in v) for v in values)
    alternatives = "|".join(["", *letters] if allow_empty else letters)
    return {"type": "string", "pattern": f"^({alternatives})$", "example": values[0]}


def any_case_text(values: Sequence[str], *, allow_empty: bool = False) -> type[serializers.CharField]:
    """A text field documented as one of ``values`` in any case; the input layer reads the value."""
    name = "AnyCase" + "Or".join(v.capitalize() for v in values)
    return extend_schema_field(any_case(values, allow_empty=allow_empty))(type(name, (serializers.CharField,), {}))
