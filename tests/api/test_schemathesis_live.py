"""Schemathesis with every check against the live server (gunicorn on PostgreSQL), authenticated by a token.

Valid and invalid requests generated from the OpenAPI document: no answer may be a server error, fall
outside the document, refuse a request the document allows, or accept one it forbids.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_live_server import admin_token, live_env, server, tiny_site  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ST = str(Path(sys.executable).with_name("st"))
MAX_EXAMPLES = 6
MAX_SECONDS = 80  # schemathesis stops generating after this; the whole test stays under two minutes
RUN_TIMEOUT = 150


def test_schemathesis_with_all_checks_passes_against_the_live_server(server, admin_token, tiny_site, tmp_path):  # noqa: F811
    completed = subprocess.run(
        [
            ST,
            "--no-color",
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{server}/rest/datapipeline/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "20261202",
            "--max-time",
            str(MAX_SECONDS),
            "--header",
            f"Authorization: Bearer {admin_token}",
            "--header",
            "X-Atlassian-Token: no-check",
            "--request-timeout",
            "30",
            "--output-truncate",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    output = completed.stdout + completed.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    print(output[output.find("SUMMARY") :])  # operations, phases, failures, test cases (shown with -s)
    failures = output[output.find("FAILURES") :] if "FAILURES" in output else output
    assert completed.returncode == 0, (
        f"schemathesis failed (full output in {tmp_path}/schemathesis.txt):\n{failures[:30000]}"
    )
    cases = re.search(r"(\d+) generated", output)
    assert cases and int(cases.group(1)) >= 500, output[-3000:]  # guards against a run that tested nothing
