"""Export one dataset into an open file (CSV, or Parquet with ``typed``): its rows (the dataset's filter), by COPY
where PostgreSQL can format them as the standard path does, else in Python, through the one keyset batch loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from . import pgcopy
from .batches import FileWriter, PythonRows, keyset_loop
from .control import ExportControl
from .formatting import Dialect, RowFormatter
from .incremental import Increment, changed_rows
from .registry import Dataset


def export_dataset(
    dataset: Dataset,
    *,
    version: int,
    dialect: Dialect,
    export_from: Any,
    opted_out: Mapping[str, Sequence[Any]],
    writer: FileWriter,
    control: ExportControl,
    batch_size: int,
    increment: Increment | None = None,
    typed: bool = False,
) -> None:
    """Write the dataset's rows (``opted_out``: ids to leave out per scope, ``registry.opted_out_ids``);
    with ``increment``, only those changed since its base (``datapipeline.incremental``); ``typed``: typed
    values for a Parquet file instead of CSV text."""
    formatter = RowFormatter(dataset, version, dialect, settings.INSTANCE_URL, typed=typed)
    queryset = dataset.queryset(export_from, opted_out)
    if increment is not None:
        queryset = changed_rows(dataset, queryset, opted_out, increment)
    control.start_entity(dataset.name, queryset.count())
    if pgcopy.usable(dataset, version, typed=typed):  # same values, formatted by PostgreSQL
        source: Any = pgcopy.copy_source(formatter, queryset, batch_size, writer, control)
    else:
        source = PythonRows(formatter, queryset, batch_size, writer)
    with source:
        keyset_loop(source, name=dataset.name, writer=writer, control=control)
