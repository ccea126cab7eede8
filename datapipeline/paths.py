"""Where exports go: the default root under the shared home, a custom root, and its validation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.conf import settings

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


# The operating system's own trees: an export there could overwrite or expose system files.
SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run",
    "/sbin", "/snap", "/sys", "/usr", "/var/cache", "/var/lib", "/var/log", "/var/run", "/var/spool",
)  # fmt: skip
SYSTEM_DIRECTORIES = ("/", "/var")  # refused themselves; what lies below them may be fine


def validate_export_path(raw: object) -> Path:
    """Return ``raw`` as a Path if it is a safe place for exports; else raise InvalidParameter naming the rule.

    Safe: absolute and already normal (no ``.``, ``..`` or ``//``), outside the operating system's
    trees and the project's code and database directories, inside DATAPIPELINE_EXPORT_PATH_ROOTS
    when that lists any, no symbolic link in any existing component, and a directory this process
    can write (or create). The runner checks again when each export starts.
    """
    try:
        return _validate_export_path(raw)
    except OSError as exc:  # a name too long, a permission denied on a parent, ...
        raise _refused(str(raw), f"it cannot be examined: {exc.strerror or exc}") from None
    except ValueError as exc:  # an unencodable character, ...
        raise _refused(str(raw), f"it cannot be examined: {exc}") from None


def _refused(path: object, rule: str) -> InvalidParameter:
    return InvalidParameter(f"The export path {path} is refused: {rule}.", key=KEY_EXPORT_PATH_INVALID)


def _validate_export_path(raw: object) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidParameter("The export path must be a non-empty string.", key=KEY_EXPORT_PATH_INVALID)
    if "\x00" in raw:
        raise InvalidParameter("The export path must not contain NUL characters.", key=KEY_EXPORT_PATH_INVALID)
    if not raw.startswith("/"):
        raise InvalidParameter(f"The export path must be absolute: {raw!r}.", key=KEY_EXPORT_PATH_INVALID)
    text = raw[:-1] if len(raw) > 1 and raw.endswith("/") else raw  # one trailing slash names the same directory
    parts = text.split("/")[1:]
    if text != "/" and ("" in parts or "." in parts or ".." in parts):
        normal = os.path.normpath(text)
        raise _refused(repr(raw), f"it must be written in normal form, without '.', '..' or '//' (e.g. {normal})")
    path = Path(text)
    _check_not_protected(path)
    _check_allowed_roots(path)
    _check_no_symlink(path)
    return path


def _inside(path: Path, tree: Path) -> bool:
    return path == tree or tree in path.parents


def _check_not_protected(path: Path) -> None:
    if str(path) in SYSTEM_DIRECTORIES:
        raise _refused(path, "it is an operating-system directory; use a directory of its own, e.g. /srv/exports")
    for tree in SYSTEM_TREES:
        if _inside(path, Path(tree)):
            raise _refused(path, f"it is inside the operating system's directory {tree}")
    code = Path(settings.BASE_DIR).resolve()
    var = Path(settings.VAR_DIR).resolve()
    if _inside(path, code) and not (path != var and var in path.parents):
        raise _refused(path, f"it is inside the project's code directory {code} (only below {var} is allowed)")
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in ("", ":memory:"):
        database_dir = Path(database["NAME"]).resolve().parent
        if path == database_dir:
            raise _refused(path, f"it is the database's directory {database_dir}; use a directory below it")


def _check_allowed_roots(path: Path) -> None:
    roots = [Path(root) for root in getattr(settings, "DATAPIPELINE_EXPORT_PATH_ROOTS", []) if root]
    if roots and not any(_inside(path, root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise _refused(path, f"it is outside the allowed roots ({allowed}; DATAPIPELINE_EXPORT_PATH_ROOTS)")


def _check_no_symlink(path: Path) -> None:
    """Walk from / down: no existing component may be a symbolic link; the last existing one must be writable."""
    probe = Path("/")
    for part in path.parts[1:]:
        child = probe / part
        try:
            mode = os.lstat(child).st_mode
        except FileNotFoundError:
            break  # the rest is created by the export
        except NotADirectoryError:
            raise _refused(path, f"it is not writable: {probe} is not a directory") from None
        if stat.S_ISLNK(mode):
            raise _refused(path, f"it contains a symbolic link at {child}, which an export never follows")
        if not stat.S_ISDIR(mode) and child != path:
            raise _refused(path, f"it is not writable: {child} is not a directory")
        probe = child
    else:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise _refused(path, "it is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise _refused(path, f"it is not writable (checked {probe})")
