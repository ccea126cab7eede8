"""A streaming Parquet writer built against the installed pyarrow: row groups of any length, bounded memory.

pyarrow writes each row group from a table held whole in memory, so a 100,000-row group of pages
(bodies of a few KB) costs ~300 MB. ``dpq.cc`` appends each batch to one unlinked temporary file per
column and, when a row group is full, writes its columns one after the other from those files, a
batch at a time, with Parquet's own column writers: memory holds one batch and one column's open
page, however wide the rows and however long the row group. ``python -m datapipeline.native build``
compiles it (``make install`` does) into ``_dpq-pyarrow<version>-<source digest>.so`` beside this
file; a library built for another pyarrow or from another dpq.cc is not used.
Without the library (no C++ compiler, or pyarrow upgraded since the build) ``available()`` says why and
``datapipeline.parquetfile`` writes with pyarrow alone, with row groups bounded by bytes instead.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "dpq.cc"
# Named after the pyarrow it was built against and the source it was built from: a library left from another
# pyarrow or an older dpq.cc (another C interface) is never loaded, it reads as not built.
SOURCE_DIGEST = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
LIBRARY = HERE / f"_dpq-pyarrow{pa.__version__}-{SOURCE_DIGEST}.so"
ERROR_SIZE = 4096
ARROW_SCHEMA_SIZE = 72  # struct ArrowSchema: 6 pointers, 2 int64 and the release callback (C data interface)
ARROW_ARRAY_SIZE = 80  # struct ArrowArray: 5 int64, 4 pointers and the release callback


class NativeWriterError(RuntimeError):
    """The native writer refused a call; the message is Arrow's."""


def _shared_library(directory: Path, name: str) -> Path:
    """pyarrow's ``lib<name>.so.<ABI version>`` (wheels ship no unversioned symlink)."""
    found = sorted(p for p in directory.glob(f"lib{name}.so*") if re.fullmatch(rf"lib{name}\.so(\.\d+)?", p.name))
    if not found:
        raise FileNotFoundError(f"pyarrow {pa.__version__} ships no lib{name}.so in {directory}")
    return found[-1]


def build_command(output: Path) -> list[str]:
    library_dir = Path(pa.get_library_dirs()[0])
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or "c++"
    return [
        compiler, "-O2", "-shared", "-fPIC", "-std=c++20", f"-I{pa.get_include()}", str(SOURCE), "-o", str(output),
        str(_shared_library(library_dir, "parquet")), str(_shared_library(library_dir, "arrow")),
        f"-Wl,-rpath,{library_dir}",
    ]  # fmt: skip


def build() -> Path:
    """Compile ``dpq.cc`` into ``LIBRARY`` (written under a temporary name, then renamed); returns its path."""
    with tempfile.TemporaryDirectory(dir=HERE, prefix=".build-") as scratch:
        output = Path(scratch) / LIBRARY.name
        done = subprocess.run(build_command(output), capture_output=True, text=True)
        if done.returncode != 0:
            raise NativeWriterError(f"compiling {SOURCE.name} failed:\n{done.stderr.strip()}")
        os.replace(output, LIBRARY)
    load.cache_clear()
    return LIBRARY


@functools.cache
def load() -> ctypes.CDLL | str:
    """The loaded library, or the reason it cannot be used."""
    if not LIBRARY.exists():
        return f"{LIBRARY.name} is not built (python -m datapipeline.native build)"
    try:
        library = ctypes.CDLL(str(LIBRARY))
    except OSError as error:
        return f"{LIBRARY.name} cannot be loaded: {error}"
    library.dpq_open.restype = ctypes.c_void_p
    library.dpq_open.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_char_p,
        ctypes.c_char_p, ctypes.c_int,
    ]  # fmt: skip
    library.dpq_write.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    library.dpq_close.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    return library


def available() -> bool:
    return not isinstance(load(), str)


def unavailable_reason() -> str:
    loaded = load()
    return loaded if isinstance(loaded, str) else ""


class StreamingParquetWriter:
    """Write record batches to the open file descriptor ``fd`` (taken over: ``close`` closes it).

    Row groups hold ``row_group_rows`` rows (the last one fewer) whatever the batches' sizes. The open
    row group waits in temporary files in ``spill_dir`` (created unlinked: nothing is left behind),
    one row group of uncompressed data at most. Calls release the GIL (ctypes), so another thread may
    fetch the next batch meanwhile.
    """

    def __init__(self, fd: int, schema: pa.Schema, *, compression: str, row_group_rows: int, spill_dir: Path):
        library = load()
        if isinstance(library, str):
            os.close(fd)
            raise NativeWriterError(library)
        self._library = library
        self._error = ctypes.create_string_buffer(ERROR_SIZE)
        c_schema = ctypes.create_string_buffer(ARROW_SCHEMA_SIZE)
        schema._export_to_c(ctypes.addressof(c_schema))
        stored_schema = base64.b64encode(schema.serialize()).decode()  # ARROW:schema, as pyarrow stores it
        self._handle = library.dpq_open(
            fd, ctypes.addressof(c_schema), compression.encode(), row_group_rows, os.fsencode(spill_dir),
            stored_schema.encode(), self._error, ERROR_SIZE,
        )  # fmt: skip
        if not self._handle:  # dpq_open has closed the descriptor
            raise NativeWriterError(self._error.value.decode(errors="replace"))

    def write(self, batch: pa.RecordBatch) -> None:
        c_array = ctypes.create_string_buffer(ARROW_ARRAY_SIZE)
        batch._export_to_c(ctypes.addressof(c_array))  # moved into the writer, which releases it
        if self._library.dpq_write(self._handle, ctypes.addressof(c_array), self._error, ERROR_SIZE) != 0:
            raise NativeWriterError(self._error.value.decode(errors="replace"))

    def close(self, *, complete: bool = True) -> None:
        """Write the last row group and the footer (unless not ``complete``: an abandoned file) and close
        the files; the writer is freed even when this raises."""
        if self._handle:
            handle, self._handle = self._handle, None
            if self._library.dpq_close(handle, int(complete), self._error, ERROR_SIZE) != 0:
                raise NativeWriterError(self._error.value.decode(errors="replace"))
