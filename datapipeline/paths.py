"""Where exports go: the default root under the shared home, a custom root, and its validation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from .errors import KEY_EXPORT_PATH_INVALID, InvalidParameter
from .models import ExportPath


def default_root() -> Path:
    return Path(settings.DATAPIPELINE_SHARED_HOME) / "data-pipeline" / "export"


def export_root() -> tuple[Path, bool]:
    """Return (root export path, whether it is a custom one)."""
    custom = ExportPath.objects.values_list("path", flat=True).first()
    if custom:
        return Path(custom), True
    return default_root(), False


def validate_export_path(raw: object) -> Path:
    """Return the path if it is absolute and a writable (or creatable) directory; else raise."""
    try:
        return _validate_export_path(raw)
    except (OSError, ValueError) as exc:  # a name too long, an unencodable character, ...
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidParameter(
            f"The export path {raw!r} cannot be used: {reason}.", key=KEY_EXPORT_PATH_INVALID
        ) from None


def _validate_export_path(raw: object) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidParameter("The export path must be a non-empty string.", key=KEY_EXPORT_PATH_INVALID)
    if "\x00" in raw:
        raise InvalidParameter("The export path must not contain NUL characters.", key=KEY_EXPORT_PATH_INVALID)
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidParameter(f"The export path must be absolute: {raw!r}.", key=KEY_EXPORT_PATH_INVALID)
    path = Path(os.path.normpath(path))
    if path.exists() and not path.is_dir():
        raise InvalidParameter(f"The export path {path} is a file, not a directory.", key=KEY_EXPORT_PATH_INVALID)
    # The nearest existing ancestor must let us create what is missing.
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidParameter(
            f"The export path {path} is not writable (checked {probe}).", key=KEY_EXPORT_PATH_INVALID
        )
    return path


@transaction.atomic
def export_path_set(*, path: object, user: Any = None, via: str = "") -> Path:
    """Validate and store a custom root export path; recorded in the audit log."""
    from exports.services import audit_record  # exports depends on this module

    validated = validate_export_path(path)
    previous, _custom = export_root()
    ExportPath.objects.all().delete()
    ExportPath.objects.create(path=str(validated))
    audit_record(action="export_path.set", user=user, via=via, previous=str(previous), path=str(validated))
    return validated


@transaction.atomic
def export_path_reset(*, user: Any = None, via: str = "") -> Path:
    """Drop the custom root export path (back to the default); recorded in the audit log."""
    from exports.services import audit_record

    previous, _custom = export_root()
    ExportPath.objects.all().delete()
    audit_record(action="export_path.reset", user=user, via=via, previous=str(previous), path=str(default_root()))
    return default_root()


def ensure_private_dir(path: Path, *, group_readable: bool = False) -> None:
    """Create ``path`` (and parents) with mode 0700 (0750 when group-readable)."""
    mode = 0o750 if group_readable else 0o700
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    # Every directory we create gets the mode (mkdir(parents=True) would give parents the umask's).
    for directory in reversed(missing):
        directory.mkdir(mode=mode, exist_ok=True)
        os.chmod(directory, mode)
    os.chmod(path, mode)
