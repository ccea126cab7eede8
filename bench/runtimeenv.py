"""The runtime-only virtualenv (``var/bench/runtime-venv``): the project as deployed, ``requirements.txt`` alone.

The project's own virtualenv also holds the test tools (``requirements-dev.txt``: pandas, and with
it numpy). pyarrow imports numpy whenever numpy is installed, which adds about 24 MB to a Parquet
export's resident memory that a deployment (``make install``: requirements.txt only) never has. The
Parquet export's peak memory is therefore measured with this interpreter, made on first use like the
peers' virtualenv and reinstalled when requirements.txt changes. It runs the same source tree, and so
the same streaming Parquet writer (built for the pinned pyarrow by ``make install``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from .peerenv import pinned_python
from .site import ROOT

VENV = ROOT / "var" / "bench" / "runtime-venv"
REQUIREMENTS = ROOT / "requirements.txt"


def runtime_python(venv: Path = VENV, log: Callable[[str], None] = print) -> Path:
    """The runtime virtualenv's python, made or brought up to date with requirements.txt first
    (``peerenv.PeerEnvError`` if it cannot be made)."""
    return pinned_python(venv, REQUIREMENTS, "the runtime requirements", log)


def parquet_writer_status(python: Path) -> str:
    """What ``python -m datapipeline.native status`` says under ``python`` (which Parquet writer it uses)."""
    done = subprocess.run(
        [str(python), "-m", "datapipeline.native", "status"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return (done.stdout or done.stderr).strip()


def has_numpy(python: Path) -> bool:
    done = subprocess.run(
        [str(python), "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('numpy') is None)"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0
