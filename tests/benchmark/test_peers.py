"""The benchmark's comparison with peers and its CPU and memory measurements, end to end (no timing is asserted)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.cpu import BackendCpu
from bench.peercompare import PEERS, SCRIPTS, Run, print_table
from bench.peerenv import REQUIREMENTS, PeerEnvError, peers_python
from bench.site import ROOT, SITE_NOW

pytestmark = pytest.mark.integration
NUMBER = r"[\d,]+(?:\.\d+)?"


def run_bench(*args: str, timeout: int = 150) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def own_database(on_postgres: bool):
    """(url, admin conninfo) of an empty PostgreSQL database for this test alone, dropped afterwards."""
    if not on_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    import psycopg

    base = urlsplit(os.environ["DATABASE_URL"])
    # One per test process: pytest-xdist runs these tests side by side, each dropping its database first.
    name = f"{os.environ.get('TEST_DATABASE_NAME') or 'test'}_peers{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    admin = urlunsplit(("postgresql", base.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield urlunsplit(("postgres", base.netloc, f"/{name}", "", "")), admin
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_peers_section_compares_every_peer_on_the_same_rows(own_database, tmp_path: Path) -> None:
    try:
        peers_python(log=lambda *_: None)  # made once (pip reaches PyPI), then reused
    except PeerEnvError as exc:
        pytest.skip(f"the peers' virtualenv could not be made here: {exc}")
    url, _ = own_database
    done = run_bench(
        "--database-url", url, "--scale", "tiny", "--no-sqlite", "--skip-latency", "--peers", "--peer-rounds", "2",
        "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    section = out[out.index("Peers: the same rows") : out.index("Export with the default throttle")]
    pins = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    assert f"connectorx {pins['connectorx']}, pyarrow {pins['pyarrow']}, dlt {pins['dlt']}" in section
    assert "round 2 of 2: psql, connectorx, dlt, pandas, export" in section  # the order turns each round
    for entity in ("pages", "comments"):
        table = section[section.index(f"  {entity} (") :]
        for tool in ("export", *PEERS):
            # tool, min s, median s, rows/s, peak MB, MB out, CPU s, [DB CPU s,] x export
            fields = 8 if tool != "export" else 7
            row = rf"^    {tool} +" + " +".join([NUMBER] * fields) + r"x  \(2 runs\)$"
            assert re.search(row, table, re.MULTILINE), f"no figures for {tool} ({entity}):\n{section}"
    figures = json.loads(next(tmp_path.glob("bench-*.json")).read_text())["peers"]
    assert figures["rounds"] == 2
    for entity in ("pages", "comments"):
        by_tool = figures["entities"][entity]
        export_rows = by_tool["export"]["rows"]
        assert export_rows[0] > 0
        for tool in ("export", *PEERS):
            assert len(by_tool[tool]["runs"]) == 2, tool
            assert by_tool[tool]["rows"] == export_rows, f"{tool} did not read the export's rows of {entity}"
            assert by_tool[tool]["bytes"] > 0, f"{tool} wrote no bytes of {entity}"
            assert by_tool[tool]["peak_rss_mb"] > 0
            assert by_tool[tool]["cpu_seconds"] > 0
    assert figures["entities"]["pages"]["export"]["ratio_to_export"] == 1.0


@pytest.mark.postgres
def test_export_cpu_includes_its_postgresql_backends(own_database, tmp_path: Path) -> None:
    url, _ = own_database
    done = run_bench(
        "--database-url", url, "--scale", "small", "--no-sqlite", "--skip-latency", "--output-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    line = re.search(r"CPU per million rows: ([\d.]+) s .* = process ([\d.]+) s \+ backends ([\d.]+) s", done.stdout)
    assert line, done.stdout
    unthrottled = json.loads(next(tmp_path.glob("bench-*.json")).read_text())["unthrottled"]
    assert unthrottled["process_cpu_seconds"] > 0
    assert unthrottled["backend_cpu_seconds"] > 0  # the export's own connections' backends, found by name
    assert float(line.group(1)) == pytest.approx(unthrottled["cpu_per_million_rows"], abs=0.05)
    # An entity's CPU is interpolated between samples taken every 0.05 s: one that took several samples' time
    # must show some (a file written within one sample's interval may show none at this small scale).
    assert all(e["cpu_seconds"] > 0 for e in unthrottled["entities"] if e["seconds"] >= 1.0)
    assert sum(e["cpu_seconds"] for e in unthrottled["entities"]) > 0


@pytest.mark.postgres
def test_backend_cpu_is_read_for_the_named_connection_only(own_database) -> None:
    import psycopg

    _, admin = own_database
    sampler = BackendCpu(admin, "dp-bench-test-busy", interval=0)
    try:
        with psycopg.connect(admin, application_name="dp-bench-test-busy") as busy:
            busy.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
            sampler.sample()
            assert sampler.seen and list(sampler.seen) == [busy.info.backend_pid]
            assert sampler.total > 0.05
    finally:
        sampler.close()


@pytest.mark.postgres
def test_peakrun_reports_each_backends_cpu_as_its_connection_closes(own_database, tmp_path: Path) -> None:
    """A backend that does all its work between two samples of the benchmark is still counted."""
    _, admin = own_database
    script = tmp_path / "program.py"
    script.write_text(
        "import sys, psycopg\n"
        "busy = 'SELECT count(*) FROM generate_series(1, 3000000)'\n"
        "closed = psycopg.connect(sys.argv[1])\n"
        "print(closed.info.backend_pid)\n"
        "closed.execute(busy).fetchone()\n"
        "closed.close()\n"
        "left_open = psycopg.connect(sys.argv[1])\n"  # still open at exit: read by the exit hook
        "print(left_open.info.backend_pid)\n"
        "left_open.execute(busy).fetchone()\n"
    )
    report = tmp_path / "backend_cpu.json"
    peakrun = [sys.executable, "-m", "bench.peakrun", str(tmp_path / "peak_kb.txt"), "--backend-cpu", str(report)]
    done = subprocess.run(
        [*peakrun, str(script), admin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    readings = json.loads(report.read_text())
    assert [pid for pid, _ in readings] == [int(pid) for pid in done.stdout.split()]
    assert all(seconds > 0.05 for _, seconds in readings), readings
    sampler = BackendCpu(None, "unused", interval=0)  # what the benchmark does with them once the child is gone
    sampler.add_final([(pid, seconds) for pid, seconds in readings])
    assert sampler.total == pytest.approx(sum(seconds for _, seconds in readings))


def test_launcher_reports_the_commands_own_peak_memory(tmp_path: Path) -> None:
    # This process holds 300 MB; a command forked straight from it would report at least that much.
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    report = tmp_path / "usage.json"
    launch = [sys.executable, "-I", "-S", str(SCRIPTS / "launch.py"), str(report)]
    done = subprocess.run([*launch, sys.executable, "-I", "-S", "-c", "pass"], check=False)
    assert done.returncode == 0
    usage = json.loads(report.read_text())
    assert 0 < usage["maxrss_kb"] < 100 * 1024, usage
    assert usage["exit"] == 0
    failed = subprocess.run([*launch, sys.executable, "-I", "-S", "-c", "raise SystemExit(3)"], check=False)
    assert failed.returncode == 3 and json.loads(report.read_text())["exit"] == 3
    del ballast


def test_peers_need_a_postgresql_site_and_known_entities(tmp_path: Path) -> None:
    done = run_bench("--database-url", f"sqlite:///{tmp_path / 'site.sqlite3'}", "--scale", "tiny", "--peers")
    assert done.returncode == 2
    assert "--peers compares PostgreSQL tools" in done.stderr and "SQLite site" in done.stderr
    done = run_bench("--peers", "--peer-entities", "pages,blogs")
    assert done.returncode == 2
    assert "--peer-entities: unknown entity blogs; choose from users, spaces, pages, comments, analytics" in done.stderr
    done = run_bench("--peers", "--peer-rounds", "0")
    assert done.returncode == 2 and "--peer-rounds must be at least 1, not 0" in done.stderr


@pytest.mark.postgres
def test_scale_curve_exports_a_quarter_a_half_and_all_of_the_scale(own_database, tmp_path: Path) -> None:
    import psycopg

    url, admin = own_database
    name = urlsplit(url).path.lstrip("/")
    curve = [f"{name}_q25", f"{name}_half"]
    try:
        done = run_bench(
            "--database-url", url, "--scale", "0.0008", "--no-sqlite", "--skip-latency", "--scale-curve",
            "--output-dir", str(tmp_path),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        for database, scale in zip(curve, ("0.0002", "0.0004"), strict=True):
            assert f"Building the site at scale {scale} (seed 42, now {SITE_NOW}) in {database}" in done.stdout
        points = json.loads(next(tmp_path.glob("bench-*.json")).read_text())["scale_curve"]["points"]
        assert [(p["fraction"], p["database"]) for p in points] == [(0.25, curve[0]), (0.5, curve[1]), (1.0, name)]
        # 0.0008 of full: 80 users, 12 spaces, 800 contents, 480 comments, 640 events (and twice, four times less).
        assert [p["rows"] for p in points][1] * 2 == pytest.approx(points[2]["rows"], rel=0.05)
        for p in points:
            assert set(p["rates"]) == {"users", "spaces", "pages", "comments", "analytics"}
            assert all(rate > 0 for rate in p["rates"].values())
            # CPU is sampled every 0.2 s and an export of a few hundred rows takes less: it may show none here
            # (test_export_cpu_includes_its_postgresql_backends checks the figures at a scale that takes seconds).
            assert p["peak_rss_mb"] > 0 and p["cpu_per_million_rows"] >= 0
            row = rf"^  {p['fraction']:<6g} {p['database']:<18} +{p['rows']:,} "
            assert re.search(row, done.stdout, re.MULTILINE), done.stdout
        assert re.search(r"peak memory, largest over smallest: [\d.]+x \((NOT )?flat: within 20%\)", done.stdout)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for database in curve:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_scale_curve_needs_full_or_a_factor(tmp_path: Path) -> None:
    done = run_bench("--database-url", "postgres://postgres@127.0.0.1:5432/x", "--scale", "tiny", "--scale-curve")
    assert done.returncode == 2
    assert "--scale-curve needs --scale full or a factor of it (0.5), not 'tiny'" in done.stderr


def test_a_tool_whose_runs_all_failed_is_shown_without_figures() -> None:
    # Another export running on the same site makes the export's run fail: the rounds that did run still count.
    runs = [
        Run("export", "pages", 1, 10.0, 100, 5000, 110.0, 4.0, 0.0),
        Run("psql", "pages", 1, 12.0, 100, 5000, 10.0, 3.0, 2.5),
        Run("psql", "pages", 2, 14.0, 100, 5000, 10.0, 3.0, 2.5),
    ]
    printed: list[str] = []
    figures = print_table(printed.append, runs, ["pages"])
    assert "    connectorx  (no run completed)" in printed
    assert figures["pages"]["connectorx"] is None
    psql = figures["pages"]["psql"]
    assert (psql["min_seconds"], psql["median_seconds"], psql["ratio_to_export"]) == (12.0, 13.0, 1.3)
    assert any(line.startswith("    psql ") and line.endswith("1.30x  (2 runs)") for line in printed), printed
