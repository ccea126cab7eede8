"""``python -m bench.peakrun OUT [--backend-cpu FILE] manage.py ARGS...``: run ``manage.py``, write its peak memory.

The program runs in this process; its peak memory goes to OUT.

On Linux a child's ``ru_maxrss`` (from ``wait4``, or ``getrusage`` in the child itself) is the larger
of its own peak and the address space it replaced at ``exec``: the parent's copy at ``fork`` time.
Once the benchmark process has grown (its latency section holds ~170 MB), every export started after
that read at least that much, whatever it used. ``VmHWM`` in ``/proc/self/status`` is the peak of the
process's own address space since ``exec``; it is written to OUT (in kB) when the program exits, by
``sys.exit`` included. A process killed by a signal writes nothing, and the caller falls back to
``ru_maxrss``.

The peers use ``bench/peers/launch.py`` instead, a bare interpreter that forks the tool and waits for
it. An export must stay the benchmark's own child, the same process from start to end: the latency
section freezes and thaws it (SIGSTOP/SIGCONT), its CPU time is read from ``/proc/<pid>``, and SIGTERM
must reach it. So it runs in this process, and reports its own peak itself.

With ``--backend-cpu FILE`` it also writes the CPU seconds of the PostgreSQL backend behind each of
its psycopg connections, read from ``/proc/<backend pid>/stat`` the moment the connection closes (or
at exit for those still open): a JSON list of ``[pid, seconds]``. The benchmark samples the backends
from outside while the export runs, but a sample only sees CPU spent before it: a short file's
backend can do all its work and close between two samples (at small scale the whole database share
was lost that way). The backend is idle when its connection closes, so this reading is its total.
"""

from __future__ import annotations

import atexit
import json
import runpy
import sys
import weakref
from pathlib import Path
from typing import Any

from bench.cpu import process_cpu_seconds


def peak_kb() -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class BackendCpuReport:
    """Reads each psycopg connection's backend CPU time as it closes; ``write`` adds the still-open ones.

    A connection is read once: by ``close``, by its finaliser when it is dropped unclosed (its backend
    is still connected then), or at exit.
    """

    def __init__(self, path: Path):
        import psycopg

        self.path = path
        self.readings: list[tuple[int, float]] = []
        self.open: weakref.WeakSet[Any] = weakref.WeakSet()
        report = self
        connection_class = psycopg.Connection
        init, close, finalise = connection_class.__init__, connection_class.close, connection_class.__del__

        def tracked_init(connection: Any, *args: Any, **kwargs: Any) -> None:
            init(connection, *args, **kwargs)
            connection._bench_unread = True
            report.open.add(connection)

        def reading_close(connection: Any) -> None:
            report.read(connection)
            close(connection)

        def reading_finalise(connection: Any, *args: Any) -> None:
            report.read(connection)
            finalise(connection, *args)

        connection_class.__init__ = tracked_init  # type: ignore[method-assign]
        connection_class.close = reading_close  # type: ignore[method-assign]
        connection_class.__del__ = reading_finalise  # type: ignore[method-assign]

    def read(self, connection: Any) -> None:
        if not getattr(connection, "_bench_unread", False) or connection.closed:
            return
        connection._bench_unread = False
        pid = connection.info.backend_pid  # from libpq, no round trip
        seconds = process_cpu_seconds(pid)
        if seconds is not None:
            self.readings.append((pid, seconds))

    def write(self) -> None:
        for connection in list(self.open):
            self.read(connection)
        self.path.write_text(json.dumps(self.readings))


def main() -> None:
    out = Path(sys.argv[1])
    backends: BackendCpuReport | None = None
    if sys.argv[2] == "--backend-cpu":
        backends = BackendCpuReport(Path(sys.argv[3]))
        del sys.argv[2:4]
    script = sys.argv[2]
    sys.argv = sys.argv[2:]

    def report() -> None:
        peak = peak_kb()
        if peak is not None:
            out.write_text(f"{peak}\n")
        if backends is not None:
            backends.write()

    atexit.register(report)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
