"""The export against what a data engineer would run instead, on the same site and the same rows.

Each round runs this project's export (all entities, one process) and, per entity, each peer in
a child process of its own: ``psql \\copy (<the export's SELECT>) TO file CSV``, ConnectorX into
an Arrow table written by pyarrow's CSV writer, dlt's ``sql_table`` (pyarrow backend) into a
filesystem destination as CSV, and pandas ``read_sql`` in chunks appended by ``to_csv``. The
order of the tools turns by one each round, so no tool always runs first or on a warm cache.
Every peer reads the export's own SELECT (``pgcopy.select_sql``: the same rows, columns and
formatting); the dataframe tools get it with the CSV header's column names. Per run: seconds,
the child's peak RSS and CPU time (``os.wait4``), its PostgreSQL backends' CPU time (``/proc``),
and the bytes of CSV it wrote. The child is started through ``peers/launch.py`` (a bare interpreter
of a few MB), so that its peak RSS is its own, not the benchmark's that forked it.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .copylimit import entity_selects
from .cpu import BackendCpu
from .exporting import ExportFailed, ExportResult, run_export, scratch_dir
from .site import Site, child_env

PEERS = ("psql", "connectorx", "dlt", "pandas")
LABELS = {
    "export": "this project's export (peak memory: the whole export)",
    "psql": "psql \\copy (<the SELECT>) TO file CSV HEADER",
    "connectorx": "ConnectorX read_sql -> Arrow table -> pyarrow.csv.write_csv",
    "dlt": "dlt sql_table(backend=pyarrow) -> filesystem destination, loader_file_format=csv",
    "pandas": "pandas read_sql(chunksize=50,000, server-side cursor) -> to_csv",
}
SCRIPTS = Path(__file__).resolve().parent / "peers"
_RUNS = itertools.count(1)


@dataclass
class Run:
    tool: str
    entity: str
    round: int
    seconds: float
    rows: int
    bytes: int
    peak_rss_mb: float
    cpu_seconds: float  # the child's user + system time and its PostgreSQL backends'
    backend_cpu_seconds: float


class PeerFailed(Exception):
    pass


def peer_sql(site: Site, job: dict[str, Any]) -> dict[str, tuple[str, str, list[str]]]:
    """entity -> (the export's SELECT with its parameters bound, its base table, the CSV header's names)."""
    import psycopg

    from datapipeline.registry import dataset

    version = job["schema"]["version"]
    found = {}
    with psycopg.connect(site.conninfo) as connection:
        cursor = psycopg.ClientCursor(connection)
        for name, (sql, params, _) in entity_selects(site, job).items():
            entity = dataset(name)
            found[name] = (cursor.mogrify(sql, params), entity.rows().model._meta.db_table, entity.header(version))
    return found


def _command(tool: str, python: Path, url: str, sql: str, table: str, names: list[str], out: Path) -> list[str]:
    if tool == "psql":
        flat = " ".join(sql.split("\n"))  # \copy takes the rest of its line; the SELECT has no line break in a literal
        return [
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            f"\\copy ({flat}) TO '{out}/rows.csv' CSV HEADER",
        ]
    named = f"SELECT * FROM ({sql}) AS export({', '.join(json.dumps(n) for n in names)})"
    (out / "select.sql").write_text(named)
    script = {"connectorx": "connectorx_csv.py", "dlt": "dlt_csv.py", "pandas": "pandas_csv.py"}[tool]
    return [str(python), str(SCRIPTS / script), url, str(out / "select.sql"), str(out), table]


def run_peer(site: Site, tool: str, entity: str, select: tuple[str, str, list[str]], *, python: Path, round_: int,
             scratch: Path) -> Run:  # fmt: skip
    """One peer exporting one entity in a child process; its output is measured, then deleted."""
    sql, table, names = select
    application_name = f"dp-bench-peer-{os.getpid()}-{next(_RUNS)}"
    url = f"{site.conninfo}?{urlencode({'application_name': application_name})}"
    out = scratch / f"{tool}-{entity}-{round_}"
    out.mkdir()
    env = child_env(site, PGAPPNAME=application_name)
    backends = BackendCpu(site.conninfo, application_name, interval=0.1)
    try:
        started = time.monotonic()
        with open(out / "stdout.txt", "wb") as stdout, open(out / "stderr.txt", "wb") as stderr:
            launch = [sys.executable, "-I", "-S", str(SCRIPTS / "launch.py"), str(out / "usage.json")]
            command = _command(tool, python, url, sql, table, names, out)
            process = subprocess.Popen([*launch, *command], env=env, stdout=stdout, stderr=stderr)
        while process.poll() is None:
            backends.sample()
            time.sleep(0.02)
        seconds = time.monotonic() - started
        backends.sample(force=True)
        printed = (out / "stdout.txt").read_text(errors="replace")
        if process.returncode != 0:
            error = (out / "stderr.txt").read_text(errors="replace")
            raise PeerFailed(f"{tool} ({entity}) exited {process.returncode}:\n{printed[-1000:]}{error[-2000:]}")
        usage = json.loads((out / "usage.json").read_text())
        files = (out / "files").rglob("*.csv") if tool == "dlt" else [out / "rows.csv"]
        return Run(
            tool=tool,
            entity=entity,
            round=round_,
            seconds=seconds,
            rows=_rows(tool, printed),
            bytes=sum(f.stat().st_size for f in files),
            peak_rss_mb=usage["maxrss_kb"] / 1024,
            cpu_seconds=usage["cpu_seconds"] + backends.total,
            backend_cpu_seconds=backends.total,
        )
    finally:
        backends.close()
        shutil.rmtree(out, ignore_errors=True)


def _rows(tool: str, printed: str) -> int:
    if tool == "psql":  # "COPY 881932"
        return int(printed.strip().splitlines()[-1].split()[-1])
    return int(json.loads(printed.strip().splitlines()[-1])["rows"])


def export_runs(result: ExportResult, entities: list[str], round_: int) -> list[Run]:
    """This project's export's figures per entity (memory: the whole export's peak, it writes them all)."""
    return [
        Run(tool="export", entity=name, round=round_, seconds=figures.seconds, rows=figures.rows,
            bytes=figures.bytes, peak_rss_mb=result.peak_rss_mb, cpu_seconds=figures.cpu_seconds,
            backend_cpu_seconds=0.0)
        for name, figures in result.entities.items() if name in entities
    ]  # fmt: skip


def compare(site: Site, job: dict[str, Any], *, entities: list[str], rounds: int, python: Path, from_date: str,
            log: Callable[[str], None]) -> list[Run]:  # fmt: skip
    """All the rounds, interleaved: the order of the tools turns by one each round."""
    selects = peer_sql(site, job)
    tools = ["export", *PEERS]
    runs: list[Run] = []
    scratch = scratch_dir()
    try:
        for round_ in range(1, rounds + 1):
            shift = (round_ - 1) % len(tools)
            order = tools[shift:] + tools[:shift]
            log(f"  round {round_} of {rounds}: {', '.join(order)}")
            for tool in order:
                try:
                    if tool == "export":
                        result = run_export(site, throttle_ratio=0, from_date=from_date)
                        done = export_runs(result, entities, round_)
                    else:
                        done = [
                            run_peer(site, tool, entity, selects[entity], python=python, round_=round_, scratch=scratch)
                            for entity in entities
                        ]
                except (ExportFailed, PeerFailed) as exc:  # one failed run (e.g. another export running) loses one
                    log(f"    {tool:<11} FAILED, left out of this round: {str(exc).strip().splitlines()[-1]}")
                    continue
                runs.extend(done)
                log(f"    {tool:<11} " + ", ".join(f"{r.entity} {r.seconds:.1f} s" for r in done))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return runs


def print_table(out: Callable[[str], None], runs: list[Run], entities: list[str]) -> dict[str, Any]:
    """Per entity and tool: min and median seconds, rows/s, peak memory, MB written, CPU s, ratio to the export."""
    figures: dict[str, Any] = {}
    for entity in entities:
        mine = [r for r in runs if r.entity == entity]
        exports = [r.seconds for r in mine if r.tool == "export"]
        export_median = statistics.median(exports) if exports else float("nan")
        rows = max((r.rows for r in mine if r.tool == "export"), default=0)
        out(f"  {entity} ({rows:,} rows)")
        out(
            f"    {'tool':<11} {'min s':>8} {'median s':>9} {'rows/s':>10} {'peak MB':>8} {'MB out':>9} "
            f"{'CPU s':>7} {'DB CPU s':>9} {'x export':>9}"
        )
        figures[entity] = {}
        for tool in ["export", *PEERS]:
            these = [r for r in mine if r.tool == tool]
            if not these:
                out(f"    {tool:<11} (no run completed)")
                figures[entity][tool] = None
                continue
            median = statistics.median(r.seconds for r in these)
            fastest = min(r.seconds for r in these)
            row = {
                "min_seconds": fastest,
                "median_seconds": median,
                "rows_per_second": rows / median,
                "peak_rss_mb": max(r.peak_rss_mb for r in these),
                "bytes": max(r.bytes for r in these),
                "cpu_seconds": statistics.median(r.cpu_seconds for r in these),
                "backend_cpu_seconds": statistics.median(r.backend_cpu_seconds for r in these),
                "ratio_to_export": median / export_median,
                "rows": sorted({r.rows for r in these}),
                "runs": [asdict(r) for r in these],
            }
            figures[entity][tool] = row
            db_cpu = f"{row['backend_cpu_seconds']:>9.1f}" if tool != "export" else f"{'':>9}"
            out(
                f"    {tool:<11} {fastest:>8.2f} {median:>9.2f} {row['rows_per_second']:>10,.0f} "
                f"{row['peak_rss_mb']:>8.0f} {row['bytes'] / 1e6:>9.1f} {row['cpu_seconds']:>7.1f} {db_cpu} "
                f"{row['ratio_to_export']:>8.2f}x  ({len(these)} runs)"
            )
    return figures
