"""Write one CSV file safely: a temporary name until complete, private mode, size and SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

from .safefiles import open_new_file

PARTIAL_SUFFIX = ".partial"
# Rows encoded per write: a batch of 5,000 pages of non-ASCII text is ~50 MB as a str buffer, its
# copy and its encoding; 256 rows keep that to a few MB with the same bytes and hash.
ROWS_PER_FLUSH = 256


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete: ``.<name>.partial`` beside it."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


class CsvFileWriter:
    """RFC 4180 CSV (UTF-8, CRLF, minimal quoting) written under ``.<name>.partial``, renamed by ``commit``.

    Rows are encoded a few hundred at a time so the hash and the file see the same bytes without a
    Python call per row. Leaving the ``with`` block without ``commit`` removes the partial file.
    The batch loop counts its rows (``counts_rows`` is False: COPY data arrives as bytes).
    """

    counts_rows = False

    def __init__(self, path: Path, header: Sequence[str], *, file_mode: int = 0o600):
        self.path = path
        self.partial_path = partial_path(path)
        self.rows = 0
        self.bytes = 0
        self._sha = hashlib.sha256()
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        # A new file, never one (or a symbolic link) that was already there.
        self._file = os.fdopen(open_new_file(self.partial_path, file_mode), "wb")
        self._committed = False
        self._csv.writerow(header)
        self._flush()

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> int:
        """Encode and write ``rows``, a few hundred at a time, so the text buffer stays small."""
        written = 0
        pending = iter(rows)
        while chunk := list(islice(pending, ROWS_PER_FLUSH)):
            self._csv.writerows(chunk)
            written += self._flush()
        return written

    def write_bytes(self, data: bytes) -> int:
        """Append CSV records already encoded (UTF-8, CRLF) by someone else, e.g. PostgreSQL's COPY."""
        self._sha.update(data)
        self._file.write(data)
        self.bytes += len(data)
        return len(data)

    def _flush(self) -> int:
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        self._sha.update(data)
        self._file.write(data)
        self.bytes += len(data)
        return len(data)

    def commit(self) -> None:
        """Make the file durable and give it its final name."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial_path, self.path)
        self._committed = True

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def __enter__(self) -> CsvFileWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            self._file.close()
            self.partial_path.unlink(missing_ok=True)
