"""The throttle's impact on the site: page-view latency with and without a throttled export running.

The project is served by gunicorn on 127.0.0.1 (several sync workers, persistent database
connections, as in production); ``bench.loadgen`` sends page views at a fixed rate from its own
process. Windows alternate: no export (the export process stopped with SIGSTOP, or not yet
started) and export running; every request is put in the window it was scheduled in, leaving
out the first second after each switch. The export's own figures leave the stopped time out.
"""

from __future__ import annotations

import http.client
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exporting import ExportProcess, ExportResult, scratch_dir
from .site import ROOT, Site, child_env

SETTLE = 1.0  # seconds after a switch whose requests count in neither window


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the project on 127.0.0.1."""

    def __init__(self, site: Site, *, workers: int = 3, log_dir: Path):
        self.port = free_port()
        url = (
            site.url + ("&" if "?" in site.url else "?") + "conn_max_age=600"
            if site.vendor == "postgresql"
            else site.url
        )
        self.log = open(log_dir / "gunicorn.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=child_env(site, DATABASE_URL=url),
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", path)
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {path} within {timeout:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class LoadGenerator:
    def __init__(self, port: int, ids_file: Path, out: Path, *, rate: float, duration: float | None = None):
        self.out = out
        command = [sys.executable, "-m", "bench.loadgen", "--port", str(port), "--ids", str(ids_file)]
        command += ["--rate", str(rate), "--out", str(out)]
        if duration is not None:
            command += ["--duration", str(duration)]
        self.process = subprocess.Popen(command, cwd=ROOT)

    def stop(self) -> list[tuple[float, float, int]]:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=60)
        return read_samples(self.out)


def read_samples(path: Path) -> list[tuple[float, float, int]]:
    samples = []
    for line in path.read_text().splitlines():
        scheduled, latency, status = line.split("\t")
        samples.append((float(scheduled), float(latency), int(status)))
    return samples


def page_ids(site: Site, n: int = 5000, seed: int = 7) -> list[int]:
    ids = [row[0] for row in site.query("SELECT id FROM wiki_content WHERE status = 'current'")]
    if not ids:
        raise RuntimeError("The site has no current page to view.")
    rng = random.Random(seed)
    return ids if len(ids) <= n else rng.sample(ids, n)


@dataclass
class Window:
    kind: str  # "baseline" | "export"
    start: float
    end: float


@dataclass
class LatencyResult:
    rate: float
    workers: int
    windows: list[Window]
    baseline: dict[str, float]
    export: dict[str, float]
    errors: int
    export_result: ExportResult
    notes: list[str] = field(default_factory=list)

    @property
    def median_ratio(self) -> float:
        return self.export["median_ms"] / self.baseline["median_ms"] if self.baseline.get("median_ms") else 0.0

    @property
    def p95_ratio(self) -> float:
        return self.export["p95_ms"] / self.baseline["p95_ms"] if self.baseline.get("p95_ms") else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "requests": len(samples),
        "median_ms": statistics.median(samples) * 1000 if samples else 0.0,
        "p95_ms": percentile(samples, 0.95) * 1000,
    }


def split_by_window(samples: list[tuple[float, float, int]], windows: list[Window]) -> dict[str, list[float]]:
    """Latencies (s) of the successful requests per window kind, by scheduled time, each window's first second out."""
    split: dict[str, list[float]] = {"baseline": [], "export": []}
    for scheduled, latency, status in samples:
        if status != 200:
            continue
        for window in windows:
            if window.start + SETTLE <= scheduled < window.end:
                split[window.kind].append(latency)
                break
    return split


def measure(
    site: Site,
    *,
    throttle_ratio: float | str,
    from_date: str,
    rate: float,
    workers: int,
    rounds: int,
    baseline_seconds: float,
    export_seconds: float,
    log: Any = print,
) -> LatencyResult:
    """Serve the site, load it, and alternate baseline and export windows; the export runs to its end.

    ``rounds`` pairs of (baseline, export) windows, then a last baseline window; the export is
    stopped during the baseline windows after it started, and left running once the windows are over
    (its figures are then the throttled export's figures).
    """
    scratch = scratch_dir()
    server = Server(site, workers=workers, log_dir=scratch)
    export: ExportProcess | None = None
    loadgen: LoadGenerator | None = None
    windows: list[Window] = []
    notes: list[str] = []
    try:
        ids = page_ids(site)
        ids_file = scratch / "ids.txt"
        ids_file.write_text("\n".join(map(str, ids)))
        server.wait_ready(f"/wiki/pages/{ids[0]}/")
        warm = LoadGenerator(server.port, ids_file, scratch / "warmup.tsv", rate=rate, duration=3.0)
        warm.process.wait(timeout=60)
        loadgen = LoadGenerator(server.port, ids_file, scratch / "samples.tsv", rate=rate)
        time.sleep(0.5)

        def window(kind: str, seconds: float) -> None:
            start = time.monotonic()
            end = start + seconds
            while time.monotonic() < end:
                if kind == "export" and export is not None and export.poll():
                    break
                time.sleep(0.05)
            windows.append(Window(kind, start, time.monotonic()))

        for i in range(rounds):
            if export is not None:
                export.stop()
            window("baseline", baseline_seconds)
            if export is None:
                export = ExportProcess(site, throttle_ratio=throttle_ratio, from_date=from_date, scratch=scratch)
            else:
                export.resume()
            window("export", export_seconds)
            if export.poll():
                notes.append(f"the export ended during export window {i + 1} of {rounds}")
                break
        if export is not None and not export.poll():
            export.stop()
        window("baseline", baseline_seconds)
        if export is not None:
            export.resume()
        samples = loadgen.stop()
        loadgen = None
        log(f"  latency windows done ({len(samples)} requests); the throttled export runs to its end ...")
        if export is None:
            raise RuntimeError("No export window ran (--rounds 0?).")
        export.wait()
        result = export.result()
    finally:
        if loadgen is not None:
            loadgen.stop()
        if export is not None:
            export.kill()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    split = split_by_window(samples, windows)
    return LatencyResult(
        rate=rate,
        workers=workers,
        windows=windows,
        baseline=summarize(split["baseline"]),
        export=summarize(split["export"]),
        errors=sum(1 for _, _, status in samples if status != 200),
        export_result=result,
        notes=notes,
    )
