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
from .exporting import ExportResult, run_export
from .latency import measure
from .machine import machine_info
from .site import ROOT, Site, SiteError, django_setup, ensure_site, neutral_config

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dp_bench"


def default_throttle() -> float:
    from datapipeline.properties import PROPERTIES

    prop = PROPERTIES["plugin.data.pipeline.throttle.ratio"]
    return prop.parse(prop.default)


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
        type=float,
        default=None,
        help="Throttle ratio of the throttled run (default: the property's default).",
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
    return parser.parse_args(argv)


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def entity_table(out: Report, result: ExportResult, *, factor: int | None) -> list[dict[str, Any]]:
    rows = []
    target = f"  target {factor}x" if factor else ""
    out(f"  {'entity':<10} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'x reference':>12}{target}")
    for name, figures in result.entities.items():
        reference = ref.RATES.get(name)
        ratio = figures.rate / reference if reference else None
        met = "" if not factor or ratio is None else ("  met" if ratio >= factor else "  NOT met")
        ratio_text = f"{ratio:>11.1f}x" if ratio is not None else f"{'':>12}"
        out(f"  {name:<10} {figures.rows:>10,} {figures.seconds:>8.1f} {figures.rate:>10,.0f} {ratio_text}{met}")
        rows.append({"entity": name, "rows": figures.rows, "seconds": figures.seconds, "rate": figures.rate,
                     "reference_ratio": ratio})  # fmt: skip
    out(
        f"  {'total':<10} {result.rows:>10,} {result.export_seconds:>8.1f} "
        f"{result.rows / max(result.export_seconds, 1e-9):>10,.0f}   (process {result.wall_seconds:.1f} s wall, "
        f"peak RSS {result.peak_rss_mb:.0f} MB)"
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
        built = ensure_site(site, args.scale, seed=args.seed, log=out)
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
        }

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

        out()
        from django.conf import settings

        niceness = getattr(settings, "DATAPIPELINE_EXPORT_NICENESS", 0)
        out(
            f"Export with the default throttle (ratio {throttle:g}, export thread at nice {niceness})"
            + (", while serving the page views" if not args.skip_latency else "")
        )
        if args.skip_latency:
            throttled = run_export(site, throttle_ratio=throttle, from_date=args.from_date)
            latency = None
        else:
            expected = unthrottled.export_seconds * (1 + throttle) + 5
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
