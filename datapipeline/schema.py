"""The export schema's versions: which exist, which is the default, what each breaks.

The datasets and their columns (with ``since``/``until`` versions) are declared by the apps that own
the data (``datapipeline.registry``). To make a breaking change, add a version here and give the
changed columns ``since``/``until``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    status: str  # ACTIVE | DEPRECATED
    changes: str = ""  # what breaks compared with the previous version (added columns are listed from the registry)


VERSIONS: tuple[SchemaVersion, ...] = (
    SchemaVersion(2, "ACTIVE", "Content columns are never truncated; all times are in UTC (`Z`)."),
    SchemaVersion(1, "DEPRECATED"),
)
DEFAULT_VERSION = 2
LATEST_VERSION = max(v.version for v in VERSIONS)


def version_info(version: int) -> SchemaVersion | None:
    return next((v for v in VERSIONS if v.version == version), None)
