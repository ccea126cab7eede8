"""Keep an export's resident memory near what it uses.

An export allocates and frees the same few MB of COPY data thousands of times, from several threads
(the COPY readers, the Parquet parser). By default glibc then keeps what is freed: each thread gets
an arena of its own, and once a large block has been freed it raises its mmap threshold and serves
the next large blocks from those arenas, so resident memory creeps up by tens of MB that the process
holds but does not use. Arrow's allocator (mimalloc) likewise returns freed pages only after a delay.

``tune_for_export`` (called when an export starts, in the process that runs it) fixes glibc's mmap
threshold, so blocks of ``MMAP_THRESHOLD`` bytes and more are mapped and unmapped on their own, and
``release_free_memory`` (after each parsed piece of Parquet data) returns the arenas' free pages.
mimalloc reads its settings when Arrow's library loads, so ``config.settings`` sets
``MIMALLOC_PURGE_DELAY=0`` in the environment first (unless the operator set it). Elsewhere than glibc
these do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 512 << 10  # COPY pieces (1-2 MB) are mapped and given back when freed


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 - glibc's, or AttributeError
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


def tune_for_export() -> None:
    """Make glibc map large blocks on their own (freed at once) in this process; idempotent."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_free_memory() -> None:
    """Return the C heap's free pages to the operating system (glibc's ``malloc_trim(0)``)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
