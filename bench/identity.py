"""Prove that a change to the engine left the exported bytes alone: SHA-256 of every file, before and after.

Runs a full export (fromDate far in the past, no throttle) of the benchmark site for each schema
version and each path (PostgreSQL's COPY, and the standard Python path), with the code of a given
checkout, and records each file's SHA-256 from the job's manifest::

    python -m bench.identity --code /path/to/old/checkout --out var/bench/identity-before.json
    python -m bench.identity --out var/bench/identity-after.json
    python -m bench.identity --compare var/bench/identity-before.json var/bench/identity-after.json
    python -m bench.identity --versus /path/to/old/checkout --rounds 3

``--versus`` times the two engines instead, interleaved (old, new, old, new, ...; schema version 2,
the COPY path, no throttle) and prints per entity the min and median seconds of each and the ratio.

The files themselves are deleted after each run (a full export is about 3 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATHS = {"copy": "true", "python": "false"}
FROM_DATE = "2000-01-01T00:00:00Z"
EXPORT_COMMAND = (sys.executable, "manage.py", "export_start", "--foreground", "--force")


def export_hashes(code: Path, database_url: str, version: int, path: str) -> dict[str, Any]:
    """One full export with ``code``'s manage.py; the manifest's files as {entity: {sha256, rows, bytes}}."""
    scratch = Path(tempfile.mkdtemp(prefix="dp-identity-", dir=ROOT / "var"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_DATA_PIPELINE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        DATAPIPELINE_SHARED_HOME=str(scratch),
        DATAPIPELINE_PG_COPY=PATHS[path],
        PLUGIN_DATA_PIPELINE_THROTTLE_RATIO="0",
    )
    started = time.monotonic()
    try:
        done = subprocess.run(
            [*EXPORT_COMMAND, "--schema-version", str(version), "--from-date", FROM_DATE],
            cwd=code,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"export failed (v{version}, {path}, {code}):\n{done.stderr[-2000:]}")
        manifest = json.loads(next(scratch.rglob("manifest.json")).read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    files = {item["entity"]: {k: item[k] for k in ("sha256", "rows", "bytes")} for item in manifest["files"]}
    seconds = {name: e.get("seconds") for name, e in manifest["job"]["statistics"]["entities"].items()}
    return {"seconds": round(time.monotonic() - started, 1), "files": files, "entity_seconds": seconds}


def record(code: Path, database_url: str) -> dict[str, Any]:
    result: dict[str, Any] = {"code": str(code), "commit": _commit(code), "runs": {}}
    for version in (1, 2):
        for path in PATHS:
            run = export_hashes(code, database_url, version, path)
            result["runs"][f"v{version}-{path}"] = run
            print(
                f"v{version} {path:6} {run['seconds']:7.1f} s  "
                + "  ".join(f"{entity} {figures['sha256'][:12]}" for entity, figures in run["files"].items()),
                flush=True,
            )
    return result


def compare(before: dict[str, Any], after: dict[str, Any]) -> bool:
    print(f"before: {before['commit']}   after: {after['commit']}")
    same = True
    for run, figures in before["runs"].items():
        for entity, old in figures["files"].items():
            new = after["runs"].get(run, {}).get("files", {}).get(entity)
            verdict = "identical" if new == old else "DIFFERENT"
            same &= new == old
            print(f"{run:10} {entity:10} {old['rows']:>9,} rows  {old['sha256']}  {verdict}")
    print("All files identical." if same else "Some files differ.")
    return same


def versus(old: Path, new: Path, database_url: str, rounds: int) -> None:
    """Time both engines' exports, interleaved, and print min/median per entity and the ratio new/old."""
    timings: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for round_number in range(1, rounds + 1):
        for label, code in (("old", old), ("new", new)):
            run = export_hashes(code, database_url, 2, "copy")
            for entity, seconds in run["entity_seconds"].items():
                timings[label].setdefault(entity, []).append(seconds)
            print(
                f"round {round_number} {label}: "
                + "  ".join(f"{e} {s:.2f}s" for e, s in run["entity_seconds"].items()),
                flush=True,
            )
    print(f"old: {_commit(old)}   new: {_commit(new)}   ({rounds} interleaved rounds, v2, COPY path, no throttle)")
    print(f"{'entity':10} {'old min':>9} {'old med':>9} {'new min':>9} {'new med':>9} {'new/old (median)':>17}")
    for entity, old_runs in timings["old"].items():
        new_runs = timings["new"][entity]
        ratio = statistics.median(new_runs) / statistics.median(old_runs)
        print(
            f"{entity:10} {min(old_runs):9.2f} {statistics.median(old_runs):9.2f} "
            f"{min(new_runs):9.2f} {statistics.median(new_runs):9.2f} {ratio:17.3f}"
        )
    total_old, total_new = (sum(statistics.median(v) for v in timings[k].values()) for k in ("old", "new"))
    print(f"{'total':10} {'':9} {total_old:9.2f} {'':9} {total_new:9.2f} {total_new / total_old:17.3f}")


def _commit(code: Path) -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=code, capture_output=True, text=True)
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity", description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose manage.py exports")
    parser.add_argument("--database", default="postgres://root@127.0.0.1:5432/dp_bench")
    parser.add_argument("--out", type=Path, help="write the hashes here (JSON)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--versus", type=Path, metavar="OLD", help="time OLD's engine against --code's, interleaved")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.versus:
        versus(args.versus.resolve(), args.code.resolve(), args.database, args.rounds)
        return 0
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        return 0 if compare(before, after) else 1
    result = record(args.code.resolve(), args.database)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
