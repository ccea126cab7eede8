"""The scale curve: the same unthrottled export at a quarter, a half and all of the site's scale.

The three sites are separate databases named after the run's (``dp_bench_q25``, ``dp_bench_half``,
``dp_bench``), each built once with the benchmark's own site building when missing. If the
export's cost per row does not grow with the data, rows per second stays level across them and
the peak memory stays flat (it streams: no batch, buffer or cache grows with the table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .exporting import ENTITY_ORDER, run_export
from .site import Site, SiteError, ensure_site, neutral_config

POINTS = ((0.25, "_q25"), (0.5, "_half"), (1.0, ""))
LEVEL = 0.2  # rows/s and peak memory are called level/flat when the largest site is within 20% of the smallest


def curve_sites(site: Site, scale: str) -> list[tuple[float, str, Site]]:
    """(fraction, demo scale, site) for each point of the curve; ``scale`` is ``full`` or a factor of it."""
    if scale == "full":
        factor = 1.0
    else:
        try:
            factor = float(scale)
        except ValueError:
            raise SiteError(
                f"--scale-curve needs --scale full or a factor of it (0.5), not {scale!r}: its points are fractions "
                "of that scale."
            ) from None
    if site.vendor != "postgresql":
        raise SiteError(f"--scale-curve builds PostgreSQL databases: {site.name} is a SQLite site.")
    parts = urlsplit(site.url)
    points = []
    for fraction, suffix in POINTS:
        point_scale = scale if fraction == 1.0 else f"{factor * fraction:g}"
        url = urlunsplit((parts.scheme, parts.netloc, f"/{site.name}{suffix}", parts.query, ""))
        points.append((fraction, point_scale, Site(url)))
    return points


def prepare_curve(points: list[tuple[float, str, Site]], *, seed: int, log: Callable[[str], None]) -> None:
    """Build the curve's sites that are missing (before the timed run); SiteError if one holds another site."""
    for _, point_scale, point in points:
        ensure_site(point, point_scale, seed=seed, log=log)


def scale_curve(out: Callable[[str], None], points: list[tuple[float, str, Site]], *, from_date: str) -> dict[str, Any]:
    """Export each site unthrottled and print rows/s per entity, peak memory and CPU per million rows."""
    results = []
    for fraction, point_scale, site in points:
        with neutral_config(site):
            results.append((fraction, point_scale, site, run_export(site, throttle_ratio=0, from_date=from_date)))
    names = [n for n in ENTITY_ORDER if n in results[0][3].entities]
    out(
        f"  {'scale':<6} {'database':<18} {'rows':>10} "
        + " ".join(f"{n:>10}" for n in names)
        + f" {'total':>10} {'peak MB':>8} {'CPU s/M':>8}"
    )
    figures: dict[str, Any] = {"points": []}
    for fraction, point_scale, site, result in results:
        rates = {n: result.entities[n].rate for n in names}
        total = result.rows / max(result.export_seconds, 1e-9)
        out(
            f"  {fraction:<6g} {site.name:<18} {result.rows:>10,} "
            + " ".join(f"{rates[n]:>10,.0f}" for n in names)
            + f" {total:>10,.0f} {result.peak_rss_mb:>8.0f} {result.cpu_per_million_rows:>8.1f}"
        )
        figures["points"].append({"fraction": fraction, "scale": point_scale, "database": site.name,
                                  "rows": result.rows, "rates": rates, "total_rate": total,
                                  "peak_rss_mb": result.peak_rss_mb,
                                  "cpu_per_million_rows": result.cpu_per_million_rows})  # fmt: skip
    smallest, largest = figures["points"][0], figures["points"][-1]
    rate_ratios = {n: largest["rates"][n] / max(smallest["rates"][n], 1e-9) for n in names}
    memory_ratio = largest["peak_rss_mb"] / max(smallest["peak_rss_mb"], 1e-9)
    level = all(abs(r - 1) <= LEVEL for r in rate_ratios.values())
    flat = abs(memory_ratio - 1) <= LEVEL
    out(
        "  rows/s, largest over smallest: "
        + ", ".join(f"{n} {r:.2f}x" for n, r in rate_ratios.items())
        + f" ({'level' if level else 'NOT level'}: within {LEVEL:.0%} for every entity)"
    )
    verdict = "flat" if flat else "NOT flat"
    out(f"  peak memory, largest over smallest: {memory_ratio:.2f}x ({verdict}: within {LEVEL:.0%})")
    figures.update({"rate_ratios": rate_ratios, "memory_ratio": memory_ratio, "level": level, "flat": flat})
    return figures
