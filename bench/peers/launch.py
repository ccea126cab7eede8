"""Run a command and write its own peak RSS and CPU time to a JSON file: ``python -I -S launch.py REPORT CMD...``.

A child's ``ru_maxrss`` includes the memory of the process it was forked from (until its exec), so
measuring a small tool (psql) straight from the benchmark would report the benchmark's own size.
This launcher is a bare interpreter (a few MB): the command is forked from it, and its resource
usage is read with ``os.wait4`` here. Exits with the command's exit code.
"""

import json
import os
import sys

report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)  # noqa: S606  (an argument list the benchmark built, no shell)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as handle:
    json.dump({"maxrss_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime, "exit": code}, handle)
sys.exit(code if code >= 0 else 128 - code)
