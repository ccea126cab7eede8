"""Write one Parquet file safely: a temporary name until complete, private mode, size and SHA-256.

The Parquet twin of ``csvfile.CsvFileWriter``. Columns are ``(name, logical type)`` pairs; the
logical types and their Arrow types are in ``ARROW_TYPES``. Rows arrive either as Python values
(``write_rows``) or as PostgreSQL ``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`` data of the same
columns (``write_copy_csv``), whose SELECT list ``copy_select_sql`` builds. Batches are buffered
into row groups of ``row_group_rows`` rows (the last one fewer), never the whole table. With the
streaming writer of ``datapipeline.native`` (built at install) the open row group waits in temporary
files, not in memory: memory holds about one batch, whatever the rows' width. Without it
(``native.unavailable_reason()`` says why) pyarrow writes each row group from a table held in memory,
so a row group is also closed when its Arrow data reaches ``row_group_bytes`` (wide rows such as page
bodies), which bounds memory at the cost of shorter groups.

The COPY CSV form of each logical type:

- ``int64``: digits; ``boolean``: ``t`` / ``f``; ``string``: the text;
- ``timestamp_us_utc``: the UTC time without offset as PostgreSQL prints ``timestamp`` with
  ``DateStyle`` ISO (its default), e.g. ``2026-01-31 12:00:00.123456``;
- ``list<string>``: the list as a JSON array of strings, as ``jsonb::text`` prints it
  (``[]``, ``[""]``, ``["a", "b"]``), parsed by ``pyarrow.json``: any text is exact.

NULL is COPY's unquoted empty field; an empty string is a quoted ``""``, so the two stay apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from . import native
from .csvfile import partial_path
from .memory import release_free_memory
from .safefiles import open_new_file

# The one mapping from a column's logical type to its Arrow (and so Parquet) type. Text is plain
# ``string``: large and view strings cannot be opened by older readers.
ARROW_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "timestamp_us_utc": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "list<string>": pa.list_(pa.field("item", pa.string())),
}
COMPRESSIONS = ("zstd", "snappy")
ROW_GROUP_ROWS = 100_000  # rows per row group (the last one may hold fewer)
# Without the native writer only: a row group also ends when its Arrow data reaches this (pages with bodies of
# several KB: about 11,000 pages a row group). pyarrow 26 writes a row group from a whole table in memory:
# ParquetWriter.write_batch is write_table, each call a new row group, and the dataset writer's min_rows_per_group
# buffers the rows in memory too (703 MB of Arrow memory for 600 MB of 100,000-row groups). Memory wins over
# row-group length for wide rows: this bounds that writer's memory.
ROW_GROUP_BYTES = 32 << 20
ROWS_PER_BATCH = 10_000  # Python rows converted to Arrow at a time
TRIM_EVERY_PIECES = 4  # the C heap's free pages go back to the system after this many parsed pieces
COPY_PARSE_BYTES = 2 << 20  # COPY data gathered before its complete records go to pyarrow.csv (in a thread)

# The SELECT-list expression that gives each logical type its COPY CSV form; {v} is the value's SQL.
# Lists are read from jsonb (the form labels are stored in). An array of strings is printed as it is (as
# cheap as the CSV's labels); any other shape is normalised first: an item that is not a string as its
# text (a number as its JSON text, a JSON null as an empty string), a stray scalar as a one-item list,
# JSON null as NULL.
COPY_SELECT_SQL: dict[str, str] = {
    "int64": "{v}",
    "timestamp_us_utc": "({v} AT TIME ZONE 'UTC')",  # cheaper than to_char; read as UTC
    "boolean": "{v}",
    "string": "{v}",
    "list<string>": (
        "CASE WHEN {v} IS NULL OR jsonb_typeof({v}) = 'null' THEN NULL "
        "WHEN jsonb_typeof({v}) = 'array' AND NOT {v} @? '$[*] ? (@.type() != \"string\")' THEN {v}::text "
        "WHEN jsonb_typeof({v}) = 'array' THEN (SELECT coalesce(jsonb_agg(coalesce(item, '') ORDER BY n), '[]') "
        "FROM jsonb_array_elements_text({v}) WITH ORDINALITY AS items(item, n))::text "
        "ELSE jsonb_build_array({v} #>> '{{}}')::text END"
    ),
}


class UnknownLogicalType(ValueError):
    """A column's logical type is none of ``ARROW_TYPES``."""


def arrow_type(logical_type: str) -> pa.DataType:
    try:
        return ARROW_TYPES[logical_type]
    except KeyError:
        known = ", ".join(ARROW_TYPES)
        raise UnknownLogicalType(f"Unknown column type {logical_type!r}; known types: {known}.") from None


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    """The file's Arrow schema for ``(name, logical type)`` columns."""
    return pa.schema([pa.field(name, arrow_type(logical)) for name, logical in columns])


def copy_select_sql(expression: str, logical_type: str) -> str:
    """The SELECT-list SQL giving ``expression`` the COPY CSV form ``write_copy_csv`` reads for ``logical_type``."""
    arrow_type(logical_type)
    return COPY_SELECT_SQL[logical_type].format(v=expression)


class _HashingFile(io.RawIOBase):
    """A write-only file that counts and hashes what goes through it."""

    def __init__(self, raw: io.BufferedWriter):
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        self.raw.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()


class ParquetFileWriter:
    """Parquet (zstd or snappy) written under ``.<name>.partial``, renamed by ``commit``.

    It counts its rows itself (``counts_rows``): the batch loop does not add a batch's count.

    Leaving the ``with`` block without ``commit`` removes the partial file. ``rows``, ``bytes`` and
    ``sha256`` describe the file as written (``bytes`` and ``sha256`` are final after ``commit``).
    """

    counts_rows = True

    def __init__(
        self,
        path: Path,
        columns: Sequence[tuple[str, str]],
        *,
        compression: str = "zstd",
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
        file_mode: int = 0o600,
    ):
        if compression not in COMPRESSIONS:
            raise ValueError(f"Parquet compression must be one of {', '.join(COMPRESSIONS)}, not {compression!r}.")
        self.path = path
        self.partial_path = partial_path(path)
        self.schema = arrow_schema(columns)
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self.copy_parse_bytes = COPY_PARSE_BYTES
        self._copy_buffer = bytearray()  # COPY data not handed to the parser yet; starts at a record's start
        self._parsed_pieces = 0
        # COPY data is parsed and written in a thread while the next piece arrives (pyarrow releases the GIL).
        self._parser: ThreadPoolExecutor | None = None
        self._parsing: Future[None] | None = None
        self._committed = False
        self._size = 0
        self._sha = hashlib.sha256()
        # A new file, never one (or a symbolic link) that was already there.
        fd = open_new_file(self.partial_path, file_mode)
        self._native: native.StreamingParquetWriter | None = None
        self._writer: Any = None  # pyarrow.parquet.ParquetWriter without the native writer
        if native.available():
            try:  # the writer takes the descriptor over, and closes it if it cannot start
                self._native = native.StreamingParquetWriter(
                    fd, self.schema, compression=compression, row_group_rows=row_group_rows, spill_dir=path.parent
                )
            except BaseException:
                self.partial_path.unlink(missing_ok=True)
                raise
            self._file = None
        else:
            import pyarrow.parquet as pq  # only here: it loads the cloud filesystems' libraries too

            self._file = os.fdopen(fd, "wb")
            self._sink = _HashingFile(self._file)
            self._writer = pq.ParquetWriter(pa.PythonFile(self._sink, mode="w"), self.schema, compression=compression)

    @property
    def streaming(self) -> bool:
        """Whether row groups are written as batches arrive (the native writer), whatever their width."""
        return self._native is not None

    # Python rows

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> int:
        """Append rows of Python values (int, aware datetime, bool, str, list of str, or None); returns their count.

        Aware datetimes of any zone are stored as their UTC instant (a naive one would be taken as UTC).
        """
        self._wait_for_parser()
        written = 0
        pending = iter(rows)
        while chunk := list(islice(pending, ROWS_PER_BATCH)):
            arrays = [pa.array([row[i] for row in chunk], type=field.type) for i, field in enumerate(self.schema)]
            self._add(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
            written += len(chunk)
        return written

    # PostgreSQL COPY CSV

    def write_copy_csv(self, chunk: bytes | bytearray | memoryview) -> int:
        """Append a piece of ``COPY ... TO STDOUT WITH (FORMAT csv)`` data (no header); a record may span pieces.

        Pieces of any size are accepted (psycopg gives one per row): they are gathered until
        ``copy_parse_bytes``, then the complete records among them go to the parser thread. A parse error
        is raised by a later call or by ``commit``.
        """
        self._copy_buffer += chunk
        if len(self._copy_buffer) >= self.copy_parse_bytes:
            self._hand_over_complete_records()
        return len(chunk)

    write_bytes = write_copy_csv  # the COPY path's name for "append data formatted by PostgreSQL"

    def _hand_over_complete_records(self) -> None:
        """Parse (in the parser thread) the buffer's complete records; the incomplete tail stays."""
        boundary = self._last_record_end(self._copy_buffer)
        if boundary <= 0:
            return
        with memoryview(self._copy_buffer) as view:
            data = bytes(view[:boundary])  # the one copy: the buffer is reused while the thread parses
        del self._copy_buffer[:boundary]
        self._wait_for_parser()
        if self._parser is None:
            self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-copy")
        self._parsing = self._parser.submit(self._parse_and_add, data)

    @staticmethod
    def _last_record_end(data: bytearray) -> int:
        """The offset just after the last line break of ``data`` outside quotes, or -1.

        ``data`` starts at a record's start. In CSV a quote inside a field is doubled, so a line break
        ends a record exactly when an even number of quotes came before it.
        """
        quoted = data.count(b'"') % 2 == 1  # at the end of the data
        end = len(data)
        while (newline := data.rfind(b"\n", 0, end)) >= 0:
            quoted ^= data.count(b'"', newline + 1, end) % 2 == 1  # now: at this line break
            if not quoted:
                return newline + 1
            end = newline
        return -1

    def _wait_for_parser(self) -> None:
        """Wait for the piece being parsed; its error, if any, is raised here."""
        if self._parsing is not None:
            parsing, self._parsing = self._parsing, None
            parsing.result()

    def _parse_and_add(self, data: bytes) -> None:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=self.schema.names, block_size=max(len(data) + 1, 1 << 20), use_threads=False
            ),
            # An empty line is a record: a NULL in a one-column SELECT.
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: _copy_csv_type(f.type) for f in self.schema},
                true_values=["t"],
                false_values=["f"],
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        columns = []
        for field in self.schema:
            column = table.column(field.name)
            if pa.types.is_list(field.type):
                column = _parse_json_lists(column.combine_chunks(), field.type)
            columns.append(column.cast(field.type))
        for batch in pa.Table.from_arrays(columns, schema=self.schema).to_batches():
            self._add(batch)
        del table, columns, data
        self._parsed_pieces += 1
        if self._parsed_pieces % TRIM_EVERY_PIECES == 0:
            release_free_memory()

    # Row groups

    def _add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self._native is not None:
            self.rows += batch.num_rows
            self._native.write(batch)
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        while self._pending_rows >= self.row_group_rows:
            table = pa.Table.from_batches(self._pending, schema=self.schema)
            rest = table.slice(self.row_group_rows)  # a view: the row group's rows are freed once written
            self._pending = rest.to_batches()
            self._pending_rows = rest.num_rows
            self._pending_bytes = sum(b.nbytes for b in self._pending)
            self._writer.write_table(table.slice(0, self.row_group_rows), row_group_size=self.row_group_rows)
        if self._pending_bytes >= self.row_group_bytes:
            self._write_last_row_group()

    def _write_last_row_group(self) -> None:
        if self._pending_rows:
            table = pa.Table.from_batches(self._pending, schema=self.schema)
            self._writer.write_table(table, row_group_size=table.num_rows)
        self._pending = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def commit(self) -> None:
        """Write what is buffered and the footer, make the file durable and give it its final name."""
        tail_start = max(self._last_record_end(self._copy_buffer), 0)
        if self._copy_buffer[tail_start:].strip(b"\r\n"):  # a last record without its line break
            if self._copy_buffer.count(b'"') % 2 == 1:
                raise ValueError("The COPY data ends inside a quoted field: the stream is incomplete.")
            self._copy_buffer += b"\n"
        else:
            del self._copy_buffer[tail_start:]
        self._hand_over_complete_records()
        self._copy_buffer = bytearray()
        self._wait_for_parser()
        self._stop_parser()
        if self._native is not None:
            self._native.close()
            self._hash_written_file()
        else:
            self._write_last_row_group()
            self._writer.close()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._size, self._sha = self._sink.size, self._sink.sha
        os.replace(self.partial_path, self.path)
        self._committed = True

    def _stop_parser(self) -> None:
        if self._parser is not None:
            self._parser.shutdown(wait=True)
            self._parser = None

    def _hash_written_file(self) -> None:
        """Size and SHA-256 of the file the native writer closed (read back from the page cache), and fsync."""
        fd = os.open(self.partial_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            with os.fdopen(fd, "rb", closefd=False) as written:
                while piece := written.read(1 << 20):
                    self._sha.update(piece)
                    self._size += len(piece)
            os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def bytes(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def __enter__(self) -> ParquetFileWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            with contextlib.suppress(Exception):  # the file is removed below whatever state the writer is in
                self._wait_for_parser()
            self._stop_parser()
            with contextlib.suppress(Exception):
                if self._native is not None:
                    self._native.close(complete=False)
                else:
                    self._writer.close()
            if self._file is not None:
                self._file.close()
            self.partial_path.unlink(missing_ok=True)


def _copy_csv_type(target: pa.DataType) -> pa.DataType:
    """How pyarrow.csv reads a column of COPY CSV: lists as their JSON text, times as UTC without
    offset (cast to UTC after), the rest as themselves."""
    if pa.types.is_list(target):
        return pa.string()
    if pa.types.is_timestamp(target):
        return pa.timestamp(target.unit)
    return target


def _parse_json_lists(texts: pa.StringArray, target: pa.DataType) -> pa.Array:
    """JSON arrays of strings (or null) -> a list array, by ``pyarrow.json`` over one ``{"l": ...}`` line per value."""
    lines = pc.binary_join_element_wise('{"l":', pc.fill_null(texts, "null"), "}\n", "")
    # The lines' characters are contiguous in the string array's data buffer: parse them in place.
    offsets = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, lines.buffers()[1]], offset=lines.offset)
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    data = lines.buffers()[2].slice(start, end - start) if end > start else pa.py_buffer(b"")
    parsed = pajson.read_json(
        pa.BufferReader(data),
        read_options=pajson.ReadOptions(use_threads=False, block_size=max(data.size + 1, 1 << 20)),
        parse_options=pajson.ParseOptions(
            explicit_schema=pa.schema([pa.field("l", target)]), unexpected_field_behavior="error"
        ),
    )
    return parsed.column("l").combine_chunks()
