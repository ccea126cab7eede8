"""Turn database rows into CSV fields for one dataset and schema version (the standard path).

With ``typed=True`` the same formatter gives each column's typed value instead (Parquet), from
the kinds' typed forms.

``RowFormatter`` is compiled once per file: it knows which ORM paths to read and, per column, a
small function from the row tuple to the field's text, which the column's kind makes
(``datapipeline.kinds``: NULL -> empty, lists -> JSON arrays, times -> ISO 8601, values in URLs
percent-encoded, embedded line breaks -> the escape string unless preserved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .kinds import (  # noqa: F401 - the Python forms, importable from here as before
    URL_FIELD,
    Target,
    escape_line_breaks,
    format_json_array,
    format_utc,
    make_local_formatter,
    url_part,
)
from .properties import get_property
from .registry import Column, Dataset


@dataclass(frozen=True)
class Dialect:
    """The configurable parts of the CSV output."""

    preserve_line_breaks: bool = False
    line_break_escape: str = "\\n"

    @classmethod
    def from_properties(cls) -> Dialect:
        """The dialect the line-break properties set, as an export reads them."""
        return cls(
            preserve_line_breaks=get_property("plugin.data.pipeline.embedded.line.break.preserve"),
            line_break_escape=get_property("plugin.data.pipeline.embedded.line.break.escape.char"),
        )

    @property
    def escape(self) -> str | None:
        """What a line break becomes; None when line breaks are kept."""
        return None if self.preserve_line_breaks else self.line_break_escape


class RowFormatter:
    """Reads ``sources`` with values_list and maps each row to the version's fields."""

    def __init__(
        self,
        dataset: Dataset,
        version: int,
        dialect: Dialect,
        instance_url: str,
        time_zone: str | None = None,
        *,
        typed: bool = False,
    ):
        self.dataset = dataset
        self.version = version
        self.columns: list[Column] = dataset.columns_for(version)
        self.header = [c.name for c in self.columns]
        sources: list[str] = ["pk"]  # first, for keyset paging
        for column in self.columns:
            for source in column.kind.sources(column):
                if source and source not in sources:
                    sources.append(source)
        self.sources = sources
        self.target = Target(
            version=version,
            escape=None if typed else dialect.escape,
            instance_url=instance_url,
            time_zone=time_zone or settings.TIME_ZONE,
            sources=tuple(sources),
            typed=typed,
        )
        self._fields = [c.kind.compile_python(c, self.target) for c in self.columns]

    def format(self, row: Sequence[Any]) -> list[Any]:
        return [f(row) for f in self._fields]
