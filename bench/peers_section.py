"""The benchmark's peers section: its virtualenv made before the timed run, then the rounds and their table."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .peercompare import LABELS, PEERS, compare, print_table
from .peerenv import PeerEnvError, peers_python, tool_versions
from .site import Site, SiteError


def prepare_peers(site: Site, log: Callable[[str], None]) -> Path:
    """The peers' python, their virtualenv made if missing; SiteError (exit 2) if the site or tools cannot be had."""
    if site.vendor != "postgresql":
        raise SiteError(
            f"--peers compares PostgreSQL tools: {site.name} is a SQLite site; give a PostgreSQL --database-url."
        )
    try:
        return peers_python(log=log)
    except PeerEnvError as exc:
        raise SiteError(str(exc)) from None


def psql_version() -> str:
    done = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "psql (version unknown)"


def peers_section(out: Callable[[str], None], site: Site, job: dict[str, Any], args: argparse.Namespace,
                  python: Path) -> dict[str, Any]:  # fmt: skip
    versions = tool_versions(python)
    out(
        f"Peers: the same rows (the export's own SELECT), {', '.join(args.peer_entities)}; "
        f"{args.peer_rounds} rounds interleaved, min and median"
    )
    out(
        f"  versions: {psql_version()}, connectorx {versions['connectorx']}, pyarrow {versions['pyarrow']}, "
        f"dlt {versions['dlt']}, pandas {versions['pandas']}, SQLAlchemy {versions['sqlalchemy']}, "
        f"psycopg2 {versions['psycopg2-binary']}"
    )
    for tool in ["export", *PEERS]:
        out(f"  {tool:<11} {LABELS[tool]}")
    runs = compare(site, job, entities=args.peer_entities, rounds=args.peer_rounds, python=python,
                   from_date=args.from_date, log=out)  # fmt: skip
    table = print_table(out, runs, args.peer_entities)
    out(
        "  seconds: wall clock of the child; rows/s from the median; peak MB: the child's ru_maxrss; CPU s: the "
        "child's user+system and its PostgreSQL backends' (DB CPU s); x export: median seconds over the export's"
    )
    return {"versions": versions, "rounds": args.peer_rounds, "entities": table}
