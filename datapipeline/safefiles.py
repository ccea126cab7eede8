"""Create export directories and files without following or reusing what someone else put there.

Every file is created new (``O_CREAT | O_EXCL | O_NOFOLLOW``) and every job directory is made by
``mkdir``, so a symbolic link or a directory planted in advance makes the export fail instead of
writing through it; only what the export has just created ever has its mode set.
"""

from __future__ import annotations

import os
from pathlib import Path

NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeExportDirectory(Exception):
    """The job's directory cannot be created fresh; the export fails with this message."""


def open_new_file(path: Path, mode: int) -> int:
    """Create ``path`` (it must not exist, not even as a symbolic link) and return its descriptor, mode ``mode``."""
    fd = os.open(path, NEW_FILE_FLAGS, mode)
    os.fchmod(fd, mode)  # whatever the umask; the file is ours, just created
    return fd


def _set_mode_of_new_directory(path: Path, mode: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def make_root(root: Path, *, mode: int) -> None:
    """Create ``root`` and its missing parents with ``mode``; directories that exist keep their mode."""
    missing = []
    probe = root
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to change
        _set_mode_of_new_directory(directory, mode)


def make_job_dir(root: Path, name: str, *, mode: int) -> Path:
    """Create ``root/name`` fresh with ``mode`` (and ``root`` if missing); refuse anything already there."""
    make_root(root, mode=mode)
    directory = root / name
    try:
        os.mkdir(directory, mode)
    except FileExistsError:
        kind = "a symbolic link" if os.path.islink(directory) else "already there"
        raise UnsafeExportDirectory(
            f"The job directory {directory} is {kind}; an export only writes into a directory it has just "
            "created. Remove or rename it, then start a new export."
        ) from None
    _set_mode_of_new_directory(directory, mode)
    return directory
