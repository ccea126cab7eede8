"""The one keyset batch loop, and the standard path's batches (values_list rows formatted in Python).

A *source* reads a dataset's rows a batch at a time, by primary key: ``read(after)`` returns a
callable giving the :class:`Batch` of rows after key ``after`` (None: from the start). The loop
writes each batch through its ``write``, counts the rows, and calls the export control between
batches (progress, heartbeat, cancel, disk guard, throttle). Sources: :class:`PythonRows` here,
and the COPY sources of ``datapipeline.pgcopy`` (which write bytes formatted by PostgreSQL, and may
read the next batch ahead while one is written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import QuerySet

from .control import ExportControl
from .formatting import RowFormatter


@dataclass
class Batch:
    """One batch: its row count, its last primary key, the row limit it was read with, and how to write it."""

    count: int
    high: Any
    limit: int
    write: Callable[[], None]


class FileWriter(Protocol):
    """A file the loop writes into: ``CsvFileWriter`` or ``parquetfile.ParquetFileWriter``."""

    rows: int
    counts_rows: bool  # whether the writer counts its rows itself (else the loop adds each batch's count)

    def write_rows(self, rows: Any) -> int: ...

    def write_bytes(self, data: bytes) -> int: ...


class BatchSource(Protocol):
    reads_ahead: bool  # whether the next batch may be read while this one is written

    def read(self, after: Any) -> Callable[[], Batch]: ...


def keyset_loop(source: BatchSource, *, name: str, writer: FileWriter, control: ExportControl) -> None:
    """Write every batch of ``source`` in key order; the last batch is the first one short of its limit."""
    pending = source.read(None)
    while True:
        batch = pending()
        ahead = source.reads_ahead and batch.count == batch.limit and control.prefetch_allowed()
        if ahead:  # start the next batch now (the throttle sees an idle site, or there is none)
            pending = source.read(batch.high)
        batch.write()
        if not batch.count:
            break
        if not writer.counts_rows:
            writer.rows += batch.count
        control.after_batch(name, batch.count)
        if batch.count < batch.limit:
            break
        if not ahead:  # after the pause the throttle may have taken
            pending = source.read(batch.high)


class OneAtATime:
    """A source that reads a batch only when the loop asks for it (nothing to set up or tear down)."""

    reads_ahead = False

    def __enter__(self) -> OneAtATime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def read(self, after: Any) -> Callable[[], Batch]:
        return lambda: self._batch(after)

    def _batch(self, after: Any) -> Batch:
        raise NotImplementedError


class PythonRows(OneAtATime):
    """Batches of ``values_list`` rows, formatted by the columns' Python forms and written as CSV rows."""

    def __init__(self, formatter: RowFormatter, queryset: QuerySet[Any], batch_size: int, writer: FileWriter):
        self.values = queryset.order_by("pk").values_list(*formatter.sources)
        self.format, self.batch_size, self.writer = formatter.format, batch_size, writer

    def _batch(self, after: Any) -> Batch:
        page = self.values if after is None else self.values.filter(pk__gt=after)
        rows = list(page[: self.batch_size])
        return Batch(len(rows), rows[-1][0] if rows else None, self.batch_size, lambda: self._write(rows))

    def _write(self, rows: list[Any]) -> None:
        if rows:
            self.writer.write_rows(map(self.format, rows))
