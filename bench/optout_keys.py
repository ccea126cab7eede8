"""Opt-out requests with many unknown keys: ``python -m bench.optout_keys [--keys N] [--rounds N]``.

Issue 12 asked that an opt-out request naming 10,000 unknown space keys take one bulk lookup and
under 0.5 s (it took 4.4-7.2 s and held a web worker). The test suite checks the single lookup
(``tests/api/test_optout.py``); this prints the time, which a test cannot judge fairly on a shared,
loaded machine.

Builds a throwaway SQLite site under a temporary directory (or uses ``--database URL``, whose
tables it must be free to write), creates a superuser, a personal access token and three spaces,
then sends, through Django's test client and the full REST stack (authentication, parsing, the
opt-out service, the audit log, the JSON answer), ``--rounds`` times each:

- ``POST config/optout?continueIfNotFound=true`` with the unknown keys (200, all listed as not found);
- the same without ``continueIfNotFound`` (400 ``optout.key.not.found``, nothing changed);
- ``DELETE`` with and without ``continueIfNotFound`` likewise.

Prints, per request, the minimum and median CPU and wall seconds of the process, and the target.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.5
URL = "/rest/datapipeline/latest/config/optout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.optout_keys", description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000, help="unknown keys per request (default 10,000)")
    parser.add_argument("--rounds", type=int, default=5, help="requests of each kind (default 5)")
    parser.add_argument("--database", help="DATABASE_URL to use instead of a throwaway SQLite file")
    args = parser.parse_args(argv)
    if args.keys < 1 or args.rounds < 1:
        parser.error("--keys and --rounds must be at least 1")

    with tempfile.TemporaryDirectory(prefix="bench-optout-") as scratch:
        os.environ["DATABASE_URL"] = args.database or f"sqlite:///{Path(scratch) / 'db.sqlite3'}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test.utils import setup_test_environment
        from rest_framework.test import APIClient

        from exports.tokens import token_create
        from wiki.models import Space

        setup_test_environment()  # the test client's host, in-memory e-mail
        logging.getLogger("django.request").setLevel(logging.ERROR)  # the refusals are expected
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_superuser("bench-optout", "bench@example.com", "unused-password-1")
        for key in ("HR", "TEST", "ENG"):
            Space.objects.get_or_create(key=f"BENCHOPT{key}", defaults={"name": f"Space {key}"})
        _token, raw = token_create(user=user, name="bench-optout")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        keys = [f"NOPE-{i}" for i in range(args.keys)]
        body = {"type": "SPACE", "keys": keys}
        client.post(URL, {"type": "SPACE", "keys": ["BENCHOPTHR"]}, format="json")  # warm up

        cases = [
            ("POST, continueIfNotFound=true", "post", "?continueIfNotFound=true", 200),
            ("POST, refused", "post", "", 400),
            ("DELETE, continueIfNotFound=true", "delete", "?continueIfNotFound=true", 200),
            ("DELETE, refused", "delete", "", 400),
        ]
        print(
            f"Opt-out requests with {args.keys:,} unknown keys, {args.rounds} rounds "
            f"({django.db.connection.vendor}; target under {TARGET_SECONDS} s each)"
        )
        print(f"{'request':<34}{'CPU min':>9}{'CPU med':>9}{'wall min':>10}{'wall med':>10}  status")
        worst = 0.0
        for label, method, query, expected in cases:
            cpu_times, wall_times = [], []
            for _ in range(args.rounds):
                wall, cpu = time.perf_counter(), time.process_time()
                response = getattr(client, method)(f"{URL}{query}", body, format="json")
                cpu_times.append(time.process_time() - cpu)
                wall_times.append(time.perf_counter() - wall)
                if response.status_code != expected:
                    print(f"{label}: expected {expected}, got {response.status_code}: {response.content[:300]!r}")
                    return 1
            worst = max(worst, statistics.median(wall_times))
            print(
                f"{label:<34}{min(cpu_times):>9.3f}{statistics.median(cpu_times):>9.3f}"
                f"{min(wall_times):>10.3f}{statistics.median(wall_times):>10.3f}  {expected}"
            )
        met = "met" if worst < TARGET_SECONDS else "NOT met"
        print(f"slowest median wall time {worst:.3f} s: target under {TARGET_SECONDS} s {met}")
        if args.database:  # leave a shared database as it was found
            Space.objects.filter(key__startswith="BENCHOPT").delete()
            user.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
