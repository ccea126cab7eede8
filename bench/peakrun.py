"""``python -m bench.peakrun OUT manage.py ARGS...``: run ``manage.py`` here and write its own peak memory to OUT.

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
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def peak_kb() -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def main() -> None:
    out, script = Path(sys.argv[1]), sys.argv[2]
    sys.argv = sys.argv[2:]

    def report() -> None:
        peak = peak_kb()
        if peak is not None:
            out.write_text(f"{peak}\n")

    atexit.register(report)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
