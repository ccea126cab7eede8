"""``python -m bench``: export rates, memory, the COPY limit, the throttle's impact on the site, SQLite, the machine."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import reference as ref
from .copylimit import copy_limit
from .exporting import ENTITY_ORDER, ExportResult, run_export
from .incremental import incremental_section
from .latency import measure
from .machine import machine_info
from .peerenv import PeerEnvError
from .peers_section import peers_section, prepare_peers
from .runtimeenv import has_numpy, parquet_writer_status, runtime_python
from .scalecurve import curve_sites, prepare_curve, scale_curve
from .site import ROOT, Site, SiteError, django_setup, ensure_site, neutral_config

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dp_bench"


def parquet_section(out: Any, site: Any, from_date: str, csv: ExportResult) -> dict[str, Any]:
    """The same export as Parquet, side by side with the unthrottled CSV export (targets: time <= 1.5x the CSV's,
    bytes <= 40% of the CSV's, peak RSS < 200 MB).

    The Parquet export runs twice: as deployed (``bench.runtimeenv``: requirements.txt only, the run the
    table and the targets use) and in this virtualenv, whose test tools bring numpy, which pyarrow then
    imports (its peak RSS is printed beside the deployed one)."""
    out()
    out("Export, unthrottled, CSV vs Parquet")
    try:
        deployed_python = runtime_python(log=out)
    except PeerEnvError as exc:
        out(f"  (no runtime-only virtualenv: {exc}; the Parquet export runs in this one)")
        deployed_python = Path(sys.executable)
    out(f"  {parquet_writer_status(deployed_python)}; numpy installed: {has_numpy(deployed_python)}")
    parquet = run_export(site, throttle_ratio=0, from_date=from_date, file_format="parquet", python=deployed_python)
    here = run_export(site, throttle_ratio=0, from_date=from_date, file_format="parquet")
    heading = ("entity", "rows", "CSV s", "Parquet s", "CSV bytes", "Parquet bytes", "bytes %")
    out("  {:<10} {:>10} {:>8} {:>10} {:>14} {:>14} {:>8}".format(*heading))
    for name in ENTITY_ORDER:
        c, p = csv.entities.get(name), parquet.entities.get(name)
        if c is None or p is None:
            continue
        share = 100 * p.bytes / max(c.bytes, 1)
        seconds = f"{c.seconds:>8.1f} {p.seconds:>10.1f}"
        out(f"  {name:<10} {p.rows:>10,} {seconds} {c.bytes:>14,} {p.bytes:>14,} {share:>7.1f}%")
    csv_bytes = sum(e.bytes for e in csv.entities.values())
    parquet_bytes = sum(e.bytes for e in parquet.entities.values())
    ratio = parquet.export_seconds / max(csv.export_seconds, 1e-9)
    share = parquet_bytes / max(csv_bytes, 1)
    out(
        f"  total: time {parquet.export_seconds:.1f} s vs {csv.export_seconds:.1f} s = {ratio:.2f}x (target <= 1.5x); "
        f"bytes {parquet_bytes:,} vs {csv_bytes:,} = {100 * share:.1f}% (target <= 40%); "
        f"peak RSS {parquet.peak_rss_mb:.0f} MB vs {csv.peak_rss_mb:.0f} MB (target < 200 MB)"
    )
    out(
        f"  in this virtualenv (numpy installed: {has_numpy(Path(sys.executable))}): "
        f"{here.export_seconds:.1f} s, peak RSS {here.peak_rss_mb:.0f} MB"
    )
    return {
        "seconds": parquet.export_seconds,
        "csv_seconds": csv.export_seconds,
        "time_ratio": ratio,
        "bytes": parquet_bytes,
        "csv_bytes": csv_bytes,
        "bytes_share": share,
        "peak_rss_mb": parquet.peak_rss_mb,
        "python": str(deployed_python),
        "dev_venv_seconds": here.export_seconds,
        "dev_venv_peak_rss_mb": here.peak_rss_mb,
    }


def default_throttle() -> float | str:
    from datapipeline.properties import PROPERTIES

    prop = PROPERTIES["plugin.data.pipeline.throttle.ratio"]
    return prop.parse(prop.default)


def throttle_arg(raw: str) -> float | str:
    from datapipeline.properties import parse_throttle

    try:
        return parse_throttle(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def throttle_text(throttle: float | str) -> str:
    return "adaptive" if isinstance(throttle, str) else f"ratio {throttle:g}"


# A throttled export's expected length as a multiple of the unthrottled one (the adaptive throttle's
# ratio depends on the site: this is its usual level under the latency workload).
ADAPTIVE_EXPECTED_FACTOR = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"The site to export (default {DEFAULT_URL}).")
    parser.add_argument("--scale", default="full", help="Demo scale the site holds or is built at (default full).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--sqlite", action=argparse.BooleanOptionalAction, default=True, help="Also export a SQLite site (default on)."
    )
    parser.add_argument("--sqlite-dir", type=Path, default=ROOT / "var" / "bench", help="Where the SQLite sites live.")
    parser.add_argument("--skip-latency", action="store_true", help="Leave out the page-view latency measurement.")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--throttle-ratio",
        type=throttle_arg,
        default=None,
        help="Throttle of the throttled run: adaptive or a fixed ratio (default: the property's default).",
    )
    parser.add_argument("--from-date", default="2000-01-01T00:00:00Z", help="fromDate of every export (default: all).")
    parser.add_argument("--rate", type=float, default=40.0, help="Page views per second of the workload.")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers.")
    parser.add_argument("--rounds", type=int, default=6, help="(no export, export) window pairs.")
    parser.add_argument("--baseline-seconds", type=float, default=12.0, help="Length of a no-export window.")
    parser.add_argument(
        "--export-seconds",
        type=float,
        default=None,
        help="Length of an export window (default: the throttled export's expected time over the rounds).",
    )
    parser.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Compare with psql \\copy, ConnectorX, dlt and pandas (PostgreSQL only; default: on for a full-scale "
        "PostgreSQL site).",
    )
    parser.add_argument("--peer-rounds", type=int, default=3, help="Interleaved rounds of the comparison (default 3).")
    parser.add_argument(
        "--peer-entities", default="pages,comments", help="Entities compared, comma-separated (default pages,comments)."
    )
    parser.add_argument(
        "--scale-curve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Also export sites of 0.25 and 0.5 of the scale (<database>_q25, <database>_half; built when missing; "
        "default: on for a full-scale PostgreSQL site).",
    )
    parser.add_argument(
        "--incremental",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Also time a full and an incremental export (1%% of pages and comments changed, 0.1%% deleted) in a "
        "scratch copy <database>_inc (PostgreSQL only; default: on for a PostgreSQL site).",
    )
    parser.add_argument(
        "--copy-wait", type=float, default=60.0, help="Seconds to retry that copy while the site is busy (default 60)."
    )
    args = parser.parse_args(argv)
    postgres = args.database_url.startswith(("postgres://", "postgresql://"))
    args.incremental = postgres if args.incremental is None else args.incremental
    # `make bench` prints everything in one run: the peers and the scale curve come with the full site.
    everything = args.scale == "full" and args.database_url.startswith(("postgres://", "postgresql://"))
    args.peers = everything if args.peers is None else args.peers
    args.scale_curve = everything if args.scale_curve is None else args.scale_curve
    args.peer_entities = [name.strip() for name in args.peer_entities.split(",") if name.strip()]
    unknown = [name for name in args.peer_entities if name not in ENTITY_ORDER]
    if unknown or not args.peer_entities:
        parser.error(
            f"--peer-entities: unknown entity {', '.join(unknown) or '(none)'}; choose from {', '.join(ENTITY_ORDER)}"
        )
    if args.peer_rounds < 1:
        parser.error(f"--peer-rounds must be at least 1, not {args.peer_rounds}")
    return args


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def entity_table(out: Report, result: ExportResult, *, factor: int | None) -> list[dict[str, Any]]:
    rows = []
    target = f"  target {factor}x" if factor else ""
    out(f"  {'entity':<10} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'CPU s/M rows':>13} {'x reference':>12}{target}")
    for name, figures in result.entities.items():
        reference = ref.RATES.get(name)
        ratio = figures.rate / reference if reference else None
        met = "" if not factor or ratio is None else ("  met" if ratio >= factor else "  NOT met")
        ratio_text = f"{ratio:>11.1f}x" if ratio is not None else f"{'':>12}"
        per_million = figures.cpu_seconds / max(figures.rows, 1) * 1e6
        out(
            f"  {name:<10} {figures.rows:>10,} {figures.seconds:>8.1f} {figures.rate:>10,.0f} {per_million:>13.1f} "
            f"{ratio_text}{met}"
        )
        rows.append({"entity": name, "rows": figures.rows, "seconds": figures.seconds, "rate": figures.rate,
                     "cpu_seconds": figures.cpu_seconds, "reference_ratio": ratio})  # fmt: skip
    out(
        f"  {'total':<10} {result.rows:>10,} {result.export_seconds:>8.1f} "
        f"{result.rows / max(result.export_seconds, 1e-9):>10,.0f}   (process {result.wall_seconds:.1f} s wall, "
        f"peak RSS {result.peak_rss_mb:.0f} MB)"
    )
    out(
        f"  CPU per million rows: {result.cpu_per_million_rows:.1f} s (the exporting process and its PostgreSQL "
        f"backends, from /proc); whole run {result.cpu_seconds:.1f} s = process {result.process_cpu_seconds:.1f} s "
        f"+ backends {result.backend_cpu_seconds:.1f} s"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Report()
    started = time.monotonic()
    site = Site(args.database_url)
    django_setup(site)
    throttle = default_throttle() if args.throttle_ratio is None else args.throttle_ratio
    figures: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "args": vars(args)}
    figures["args"] = {k: str(v) for k, v in vars(args).items()}
    try:
        peers_python = prepare_peers(site, log=out) if args.peers else None
        curve = curve_sites(site, args.scale) if args.scale_curve else None  # checked before building anything
        built = ensure_site(site, args.scale, seed=args.seed, log=out)
        if curve is not None:
            prepare_curve(curve, seed=args.seed, log=out)
        sqlite_site = None
        if args.sqlite:
            sqlite_site = Site(f"sqlite:///{(args.sqlite_dir / f'site-{args.scale}.sqlite3').resolve()}")
            sqlite_built = ensure_site(sqlite_site, args.scale, seed=args.seed, log=out)
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    timed = time.monotonic()
    out(f"Data pipeline export benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    out(f"Site: {site.vendor} {site.name}, scale {args.scale} (seed {args.seed}), {built}; fromDate {args.from_date}")
    machine = machine_info(site.server_version())
    figures["machine"] = machine
    figures["site"] = {"vendor": site.vendor, "name": site.name, "scale": args.scale, "counts": site.counts()}
    out(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gb']} GB RAM, {machine['os']}; "
        f"Python {machine['python']}; PostgreSQL {machine['postgresql'] or '-'}; SQLite {machine['sqlite']}"
    )
    with neutral_config(site):
        out()
        out("Export, unthrottled (throttle ratio 0)")
        unthrottled = run_export(site, throttle_ratio=0, from_date=args.from_date)
        figures["unthrottled"] = {
            "entities": entity_table(out, unthrottled, factor=ref.UNTHROTTLED_TARGET),
            "seconds": unthrottled.export_seconds,
            "wall_seconds": unthrottled.wall_seconds,
            "peak_rss_mb": unthrottled.peak_rss_mb,
            "process_cpu_seconds": unthrottled.process_cpu_seconds,
            "backend_cpu_seconds": unthrottled.backend_cpu_seconds,
            "cpu_per_million_rows": unthrottled.cpu_per_million_rows,
        }

        figures["parquet"] = parquet_section(out, site, args.from_date, unthrottled)

        out()
        out("Limit: PostgreSQL's own COPY (SELECT <the same columns>) TO STDOUT into a file")
        if site.vendor == "postgresql":
            copies = copy_limit(site, unthrottled.job)
            copy_total = sum(c.seconds for c in copies.values())
            out(f"  {'entity':<10} {'COPY s':>8} {'MB':>8} {'export s':>9} {'ratio':>6}")
            for name, c in copies.items():
                ours = unthrottled.entities[name].seconds
                out(f"  {name:<10} {c.seconds:>8.2f} {c.bytes / 1e6:>8.1f} {ours:>9.2f} {ours / c.seconds:>5.1f}x")
            ratio = unthrottled.export_seconds / copy_total
            verdict = "met" if ratio <= ref.COPY_RATIO_TARGET else "NOT met"
            out(
                f"  {'total':<10} {copy_total:>8.2f} {'':>8} {unthrottled.export_seconds:>9.2f} {ratio:>5.1f}x  "
                f"(target <= {ref.COPY_RATIO_TARGET:g}x: {verdict}; SELECT from {next(iter(copies.values())).source})"
            )
            figures["copy"] = {"entities": {n: asdict(c) for n, c in copies.items()}, "seconds": copy_total,
                               "export_ratio": ratio}  # fmt: skip
        else:
            out("  (PostgreSQL only: this site is SQLite)")
            figures["copy"] = None

        if peers_python is not None:
            out()
            figures["peers"] = peers_section(out, site, unthrottled.job, args, peers_python)

        out()
        from django.conf import settings

        niceness = getattr(settings, "DATAPIPELINE_EXPORT_NICENESS", 0)
        if isinstance(throttle, str):
            out(
                f"Export with the default throttle ({throttle_text(throttle)}, export thread at nice {niceness}), "
                "no site load"
            )
            idle = run_export(site, throttle_ratio=throttle, from_date=args.from_date)
            share = unthrottled.export_seconds / max(idle.export_seconds, 1e-9)
            verdict = "met" if share >= ref.IDLE_THROTTLED_SHARE_TARGET else "NOT met"
            figures["throttled_idle"] = {
                "entities": entity_table(out, idle, factor=None),
                "seconds": idle.export_seconds,
                "share_of_unthrottled_rate": share,
            }
            out(
                f"  rate {share:.0%} of the unthrottled export's "
                f"(target >= {ref.IDLE_THROTTLED_SHARE_TARGET:.0%}: {verdict})"
            )
            out()
        out(
            f"Export with the default throttle ({throttle_text(throttle)}, export thread at nice {niceness})"
            + (", while serving the page views" if not args.skip_latency else "")
        )
        if args.skip_latency:
            throttled = run_export(site, throttle_ratio=throttle, from_date=args.from_date)
            latency = None
        else:
            factor = ADAPTIVE_EXPECTED_FACTOR if isinstance(throttle, str) else 1 + throttle
            expected = unthrottled.export_seconds * factor + 5
            export_window = args.export_seconds or max(10.0, expected / args.rounds)
            latency = measure(
                site,
                throttle_ratio=throttle,
                from_date=args.from_date,
                rate=args.rate,
                workers=args.workers,
                rounds=args.rounds,
                baseline_seconds=args.baseline_seconds,
                export_seconds=export_window,
                log=out,
            )
            throttled = latency.export_result
        figures["throttled"] = {
            "ratio": throttle,
            "niceness": niceness,
            "entities": entity_table(out, throttled, factor=ref.THROTTLED_TARGET),
            "seconds": throttled.export_seconds,
            "wall_seconds": throttled.wall_seconds,
            "peak_rss_mb": throttled.peak_rss_mb,
            "stopped_seconds": sum(b - a for a, b in throttled.stopped),
        }

        out()
        peak = max(unthrottled.peak_rss_mb, throttled.peak_rss_mb)
        verdict = "met" if peak < ref.MEMORY_TARGET_MB else "NOT met"
        out(
            f"Peak resident memory of the exporting process: {peak:.0f} MB "
            f"(unthrottled {unthrottled.peak_rss_mb:.0f} MB, throttled {throttled.peak_rss_mb:.0f} MB; "
            f"target < {ref.MEMORY_TARGET_MB} MB: {verdict})"
        )
        figures["peak_rss_mb"] = peak

        out()
        out("Throttle impact on the site: page views (GET /wiki/pages/<id>/)")
        if latency is None:
            out("  (skipped: --skip-latency)")
            figures["latency"] = None
        else:
            b, e = latency.baseline, latency.export
            n_windows = sum(1 for w in latency.windows if w.kind == "export")
            out(
                f"  gunicorn {latency.workers} sync workers on 127.0.0.1, open loop {latency.rate:g} req/s over random "
                f"pages; {n_windows} export windows alternating with {len(latency.windows) - n_windows} without"
            )
            out(f"  {'':<22} {'requests':>8} {'median ms':>10} {'p95 ms':>8}")
            out(f"  {'no export':<22} {b['requests']:>8} {b['median_ms']:>10.2f} {b['p95_ms']:>8.2f}")
            out(f"  {'throttled export':<22} {e['requests']:>8} {e['median_ms']:>10.2f} {e['p95_ms']:>8.2f}")
            verdict = "met" if 0 < latency.median_ratio <= ref.LATENCY_RATIO_TARGET else "NOT met"
            out(
                f"  ratio: median {latency.median_ratio:.3f}, p95 {latency.p95_ratio:.3f}  "
                f"(target median <= {ref.LATENCY_RATIO_TARGET}: {verdict}); failed requests: {latency.errors}"
            )
            for note in latency.notes:
                out(f"  note: {note}")
            figures["latency"] = {
                "rate": latency.rate, "workers": latency.workers, "baseline": b, "export": e,
                "median_ratio": latency.median_ratio, "p95_ratio": latency.p95_ratio, "errors": latency.errors,
                "windows": [asdict(w) for w in latency.windows], "notes": latency.notes,
            }  # fmt: skip

    if args.incremental:
        out()
        out("Incremental export: 1% of pages and comments changed and 0.1% deleted, in a copy of the site")
        try:
            figures["incremental"] = incremental_section(
                out, site, from_date=args.from_date, wait_seconds=args.copy_wait
            )
        except SiteError as exc:
            out(f"  FAILED: {exc}")
            figures["incremental"] = None

    if curve is not None:
        out()
        out("Scale curve: the same unthrottled export at 0.25, 0.5 and 1.0 of the scale (rows/s per entity)")
        figures["scale_curve"] = scale_curve(out, curve, from_date=args.from_date)

    out()
    out("SQLite, same scale, unthrottled")
    if sqlite_site is None:
        out("  (skipped: --no-sqlite)")
        figures["sqlite"] = None
    else:
        with neutral_config(sqlite_site):
            sqlite_result = run_export(sqlite_site, throttle_ratio=0, from_date=args.from_date)
        out(f"  site {sqlite_site.name} ({sqlite_built})")
        figures["sqlite"] = {
            "entities": entity_table(out, sqlite_result, factor=None),
            "seconds": sqlite_result.export_seconds,
            "peak_rss_mb": sqlite_result.peak_rss_mb,
        }

    out()
    total = time.monotonic() - timed
    out(f"Total benchmark time: {total:.0f} s (site checks and builds before it: {timed - started:.0f} s)")
    figures["total_seconds"] = total
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = args.output_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    (args.output_dir / f"bench-{stamp}.txt").write_text("\n".join(out.lines) + "\n")
    print(f"Figures written to {json_path}")
    return 0
