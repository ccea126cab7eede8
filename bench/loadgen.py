"""Open-loop load generator: GET /wiki/pages/<id>/ at a fixed rate over random page ids, in its own process.

``python -m bench.loadgen --port P --ids FILE --rate R --out FILE [--duration S]``. Requests are
scheduled at fixed intervals whatever the server does (open loop); each one's latency is measured
from its scheduled time, so a server that falls behind shows it. One line per request goes to
--out: scheduled time (time.monotonic, shared by the processes of the machine), latency in
seconds, HTTP status (0 for a connection error). Runs until --duration ends or SIGTERM.
"""

from __future__ import annotations

import argparse
import http.client
import queue
import random
import signal
import threading
import time
from pathlib import Path


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ids", type=Path, required=True, help="A file of page ids, one a line.")
    parser.add_argument("--rate", type=float, default=40.0, help="Requests per second.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    ids = [int(line) for line in args.ids.read_text().split()]
    rng = random.Random(args.seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    work: queue.Queue[tuple[float, int] | None] = queue.Queue()
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        while (item := work.get()) is not None:
            scheduled, page_id = item
            status = _get(args.port, f"/wiki/pages/{page_id}/")
            latency = time.monotonic() - scheduled
            with lock:
                results.append((scheduled, latency, status))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    interval = 1.0 / args.rate
    started = time.monotonic()
    n = 0
    while not stop.is_set():
        scheduled = started + n * interval
        if args.duration is not None and scheduled - started >= args.duration:
            break
        delay = scheduled - time.monotonic()
        if delay > 0 and stop.wait(delay):
            break
        work.put((scheduled, rng.choice(ids)))
        n += 1
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join(timeout=35)
    with lock:
        lines = [f"{s:.6f}\t{lat:.6f}\t{status}\n" for s, lat, status in sorted(results)]
    args.out.write_text("".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
