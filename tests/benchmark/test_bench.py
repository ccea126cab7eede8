"""The benchmark command and its harness, end to end at scale tiny (no timing is asserted)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.latency import LoadGenerator, Server, Window, page_ids, percentile, split_by_window
from bench.site import ROOT, Site, SiteError, ensure_site, neutral_config

pytestmark = pytest.mark.integration

SECTIONS = [
    "Machine: ",
    "Export, unthrottled (throttle ratio 0)",
    "Export, unthrottled, CSV vs Parquet",
    "Limit: PostgreSQL's own COPY",
    "Export with the default throttle (adaptive, export thread at nice 19), no site load",
    "of the unthrottled export's (target >= 80%",
    "Export with the default throttle (adaptive, export thread at nice 19)\n",
    "Peak resident memory of the exporting process",
    "Throttle impact on the site",
    "SQLite, same scale, unthrottled",
    "Total benchmark time",
]
ENTITIES = ["users", "spaces", "pages", "comments", "analytics"]


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A SQLite site at scale tiny, built once for the module by the benchmark itself."""
    path = tmp_path_factory.mktemp("bench-site") / "site-tiny.sqlite3"
    site = Site(f"sqlite:///{path}")
    assert ensure_site(site, "tiny", log=lambda *_: None) == "built"
    return site


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_command_runs_end_to_end_and_prints_every_section(tiny_site: Site, tmp_path: Path) -> None:
    # An admin value that would override the benchmark's throttle, and a custom export path: both survive the run.
    with sqlite3.connect(tiny_site.sqlite_path) as db:
        db.execute(
            "INSERT INTO datapipeline_configproperty (key, value, updated) "
            "VALUES ('plugin.data.pipeline.throttle.ratio', '7', '2026-01-01 00:00:00')"
        )
        db.execute(
            "INSERT INTO datapipeline_exportpath (id, path, updated) VALUES (1, ?, '2026-01-01')",
            (str(tmp_path / "custom"),),
        )
    done = run_bench(
        "--database-url", tiny_site.url, "--scale", "tiny", "--skip-latency",
        "--sqlite-dir", str(tiny_site.sqlite_path.parent), "--output-dir", str(tmp_path / "results"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    positions = [out.index(section) for section in SECTIONS]
    assert positions == sorted(positions), out
    assert "(PostgreSQL only: this site is SQLite)" in out
    assert "(skipped: --skip-latency)" in out
    # Each of the four exports printed every entity with its rows (tiny: 5 users, 2 spaces, ...).
    for entity in ENTITIES:
        assert out.count(f"  {entity:<10} ") == 5, out  # unthrottled, CSV vs Parquet, limit, throttled, SQLite
    figures = json.loads(next((tmp_path / "results").glob("bench-*.json")).read_text())
    assert {e["entity"] for e in figures["unthrottled"]["entities"]} == set(ENTITIES)
    assert figures["unthrottled"]["entities"][0]["rows"] == 5
    assert figures["throttled"]["ratio"] == "adaptive"
    assert [e["rows"] for e in figures["throttled_idle"]["entities"]] == [
        e["rows"] for e in figures["unthrottled"]["entities"]
    ]
    assert figures["throttled_idle"]["share_of_unthrottled_rate"] > 0
    assert figures["peak_rss_mb"] > 0
    assert figures["sqlite"]["entities"][4]["rows"] == 20
    assert (tmp_path / "results").glob("bench-*.txt")
    with sqlite3.connect(tiny_site.sqlite_path) as db:
        assert db.execute("SELECT key, value FROM datapipeline_configproperty").fetchall() == [
            ("plugin.data.pipeline.throttle.ratio", "7")
        ]
        assert db.execute("SELECT path FROM datapipeline_exportpath").fetchall() == [(str(tmp_path / "custom"),)]
        # The exports ran (jobs completed) and left no file behind in the custom path.
        assert db.execute("SELECT count(*) FROM exports_exportjob WHERE status = 'COMPLETED'").fetchone()[0] >= 3
        db.execute("DELETE FROM datapipeline_configproperty")
        db.execute("DELETE FROM datapipeline_exportpath")
    assert not (tmp_path / "custom").exists()


def test_a_site_of_another_scale_is_refused(tiny_site: Site, tmp_path: Path) -> None:
    with pytest.raises(SiteError, match=r"holds another site \(5 users, 2 spaces.*not scale small"):
        ensure_site(tiny_site, "small", log=lambda *_: None)
    done = run_bench("--database-url", tiny_site.url, "--scale", "small", "--output-dir", str(tmp_path))
    assert done.returncode == 2
    assert "holds another site" in done.stderr
    assert not list(tmp_path.iterdir())


def test_neutral_config_sets_aside_and_puts_back(tiny_site: Site) -> None:
    tiny_site.query(
        "INSERT INTO datapipeline_configproperty (key, value, updated) VALUES "
        "('plugin.data.pipeline.throttle.ratio', '3', '2026-01-01'), ('plugin.data.pipeline.optout.count.limit', "
        "'9', '2026-01-01')"
    )
    try:
        with neutral_config(tiny_site):
            assert tiny_site.query("SELECT key FROM datapipeline_configproperty") == [
                ("plugin.data.pipeline.optout.count.limit",)
            ]
        assert sorted(tiny_site.query("SELECT key, value FROM datapipeline_configproperty")) == [
            ("plugin.data.pipeline.optout.count.limit", "9"),
            ("plugin.data.pipeline.throttle.ratio", "3"),
        ]
    finally:
        tiny_site.query("DELETE FROM datapipeline_configproperty")


def test_latency_harness_serves_page_views_and_records_them(tiny_site: Site, tmp_path: Path) -> None:
    server = Server(tiny_site, workers=2, log_dir=tmp_path)
    try:
        ids = page_ids(tiny_site)
        (tmp_path / "ids.txt").write_text("\n".join(map(str, ids)))
        server.wait_ready(f"/wiki/pages/{ids[0]}/")
        load = LoadGenerator(server.port, tmp_path / "ids.txt", tmp_path / "samples.tsv", rate=20, duration=1.5)
        load.process.wait(timeout=60)
        samples = load.stop()
    finally:
        server.stop()
    assert len(samples) >= 20
    assert {status for _, _, status in samples} == {200}
    assert all(latency > 0 for _, latency, _ in samples)


def test_split_by_window_puts_each_request_in_its_window_minus_the_settling_second() -> None:
    windows = [Window("baseline", 0.0, 10.0), Window("export", 10.0, 20.0)]
    samples = [(0.5, 9.0, 200), (1.5, 0.01, 200), (9.9, 0.02, 200), (10.5, 9.0, 200), (12.0, 0.03, 200),
               (13.0, 0.04, 500), (25.0, 0.05, 200)]  # fmt: skip
    assert split_by_window(samples, windows) == {"baseline": [0.01, 0.02], "export": [0.03]}


def test_percentile() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 51.0 or percentile(values, 0.5) == 50.0
    assert percentile([], 0.95) == 0.0


@pytest.mark.postgres
def test_command_on_postgresql_times_the_copy_limit(on_postgres: bool, tmp_path: Path) -> None:
    if not on_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    import psycopg

    base = urlsplit(os.environ["DATABASE_URL"])
    name = f"{os.environ.get('TEST_DATABASE_NAME') or 'test'}_bench{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    admin = urlunsplit(("postgresql", base.netloc, "/postgres", "", ""))
    url = urlunsplit(("postgres", base.netloc, f"/{name}", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        done = run_bench(
            "--database-url", url, "--scale", "tiny", "--no-sqlite", "--rounds", "1", "--baseline-seconds", "2",
            "--export-seconds", "2", "--output-dir", str(tmp_path),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"Creating the database {name}" in done.stdout
        assert "(skipped: --no-sqlite)" in done.stdout
        figures = json.loads(next(tmp_path.glob("bench-*.json")).read_text())
        assert set(figures["copy"]["entities"]) == set(ENTITIES)
        assert figures["copy"]["entities"]["analytics"]["bytes"] > 0
        assert figures["latency"]["baseline"]["requests"] > 0
        assert figures["site"]["counts"]["users"] == 5
        # The incremental section (on by default for a PostgreSQL site), in a scratch copy dropped afterwards.
        assert "Incremental export: 1% of pages and comments changed" in done.stdout
        incremental = figures["incremental"]
        full, inc = incremental["full"]["entities"], incremental["incremental"]["entities"]
        assert set(full) == set(inc) == set(ENTITIES)
        # A changed row outside the dataset (a page's old version) is named too: deleting it is a no-op.
        assert inc["pages"]["deleted"] >= incremental["changed"]["wiki_content deleted"] == 1
        assert inc["comments"]["deleted"] == incremental["changed"]["wiki_comment deleted"] > 0
        assert inc["pages"]["rows"] <= incremental["changed"]["wiki_content updated"]
        assert inc["users"]["rows"] == inc["spaces"]["rows"] == inc["analytics"]["rows"] == 0
        assert full["pages"]["rows"] > inc["pages"]["rows"]
        assert incremental["change_log"]["after_changes"] > 0
        assert any("datapipeline_changelog" in line for line in incremental["plan"])
        with psycopg.connect(admin, autocommit=True) as connection:
            assert not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_inc",)).fetchall()
        # Run alone; a site that stays in use is not copied (exit 2, the reason said).
        alone = subprocess.run(
            [sys.executable, "-m", "bench.incremental", "--database-url", url], cwd=ROOT, capture_output=True,
            text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        )  # fmt: skip
        assert alone.returncode == 0, alone.stdout + alone.stderr
        assert "EXPLAIN ANALYZE of the incremental pages SELECT" in alone.stdout
        with psycopg.connect(url.replace("postgres://", "postgresql://")):
            busy = subprocess.run(
                [sys.executable, "-m", "bench.incremental", "--database-url", url, "--copy-wait", "3"], cwd=ROOT,
                capture_output=True, text=True, timeout=60,
                env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            )  # fmt: skip
        assert busy.returncode == 2 and "stayed in use" in busy.stderr, busy.stdout + busy.stderr
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'DROP DATABASE IF EXISTS "{name}_inc" WITH (FORCE)')


def test_peakrun_reports_the_programs_own_peak_memory(tmp_path: Path) -> None:
    """bench.peakrun: an export started by a large benchmark process reads its own peak, not the parent's."""
    ballast = bytearray(300 * 1024 * 1024)  # a command forked from this process would report at least this much
    ballast[::4096] = b"x" * len(ballast[::4096])
    report = tmp_path / "peak_kb.txt"
    script = tmp_path / "program.py"
    script.write_text("import sys\nsys.exit(int(sys.argv[1]))\n")
    for code in (0, 3):
        report.unlink(missing_ok=True)
        done = subprocess.run([sys.executable, "-m", "bench.peakrun", str(report), str(script), str(code)], cwd=ROOT)
        assert done.returncode == code  # the program's exit code, arguments passed on
        assert 0 < int(report.read_text()) < 100 * 1024  # kB: the program's own VmHWM
    del ballast
