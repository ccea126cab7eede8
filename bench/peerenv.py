"""The peers' own virtualenv (``var/bench/peers-venv``), made on first use from ``bench/peers-requirements.txt``.

The tools the export is compared with never enter the project's requirements: they are pinned
in their own file and installed with pip into a virtualenv of their own, reinstalled when that
file changes (its SHA-256 is kept beside the virtualenv).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .site import ROOT

VENV = ROOT / "var" / "bench" / "peers-venv"
REQUIREMENTS = Path(__file__).resolve().parent / "peers-requirements.txt"
DISTRIBUTIONS = ("connectorx", "pyarrow", "dlt", "pandas", "sqlalchemy", "psycopg2-binary")


class PeerEnvError(Exception):
    """The peers' virtualenv could not be made (a message for the user)."""


def peers_python(venv: Path = VENV, log: Callable[[str], None] = print) -> Path:
    """The virtualenv's python, the virtualenv made or brought up to date with the pinned requirements first."""
    return pinned_python(venv, REQUIREMENTS, "the peers' pinned tools", log)


def pinned_python(venv: Path, requirements: Path, what: str, log: Callable[[str], None] = print) -> Path:
    """``venv``'s python, made or reinstalled when ``requirements`` changed (its SHA-256 is kept in the venv)."""
    python = venv / "bin" / "python"
    stamp = venv / "requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    log(f"Installing {what} ({requirements.name}) into {venv}; not part of the timed run ...")
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
    ]
    for step in steps if not python.exists() else steps[1:]:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired:
            raise PeerEnvError(f"{' '.join(step[:4])} did not finish in 15 minutes.") from None
        if done.returncode != 0:
            raise PeerEnvError(
                f"Could not make the virtualenv {venv} ({' '.join(step[:4])} exited {done.returncode}):\n"
                f"{done.stderr[-2000:]}"
            )
    stamp.write_text(digest + "\n")
    return python


def tool_versions(python: Path) -> dict[str, str]:
    """The installed version of each peer distribution in the virtualenv."""
    script = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    done = subprocess.run([str(python), "-c", script, *DISTRIBUTIONS], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)
