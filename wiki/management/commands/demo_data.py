"""``manage.py demo_data``: fill the site with realistic, reproducible demo data."""

import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from wiki.demo import DemoScale, scale_parse, site_build, site_counts, site_delete


def _parse_now(value: str | None) -> datetime:
    """The site's "now" from --now (ISO 8601 with an offset), or the clock."""
    if value is None:
        return timezone.now()
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"--now must be an ISO 8601 time with an offset, e.g. 2026-11-01T00:00:00Z, not {value!r}.")
    return parsed


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {label}" for label, n in counts.items())


class Progress:
    """One progress line per table on the command's stdout: rewritten in place on a terminal, every 10% otherwise."""

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_step: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        line = f"{label:<22} {done:>10,} / {total:,} ({percent}%)"
        if self.tty:
            self.stream.write("\r" + line, ending="\n" if done >= total else "")
        elif percent // 10 != self.last_step.get(label, -1):
            self.last_step[label] = percent // 10
            self.stream.write(line)
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Fill the site with realistic demo data (users, spaces, pages and blog posts, comments, analytics "
        "events). The same --seed gives the same site. Refuses to run on a site that has data unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same site.")
        parser.add_argument(
            "--scale",
            default="small",
            help="tiny, small (default), full (100k users, 15k spaces, 1M pages and blog posts, 600k comments, "
            "800k events), or a number that multiplies full, e.g. 0.01.",
        )
        parser.add_argument(
            "--now",
            help="The site's now, ISO 8601 with an offset (default: the clock): activity spans the two years "
            "before it, the newest within the last hour. The same --seed and --now give the same site.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the site's data first (spaces, pages, comments, events, non-superuser users).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5_000, help="Rows per insert batch and progress step (default 5000)."
        )

    def handle(
        self, *args: Any, seed: int, scale: str, now: str | None, reset: bool, batch_size: int, **options: Any
    ) -> None:
        site_now = _parse_now(now)
        try:
            demo_scale = scale_parse(scale)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        planned = self._planned(demo_scale)
        existing = site_counts()
        if any(existing.values()) and not reset:
            raise CommandError(
                f"The site already has data ({_describe(existing)}). This would add {_describe(planned)} "
                f"(scale {scale}, seed {seed}). Run with --reset to replace the site's data (superusers are kept)."
            )
        verbose = options["verbosity"] >= 1
        progress = Progress(self.stdout) if verbose else None
        started = time.monotonic()
        deleted_in = None
        with transaction.atomic():
            if any(existing.values()):
                if verbose:
                    self.stdout.write(f"Deleting the site's data ({_describe(existing)})...")
                site_delete()
                deleted_in = time.monotonic() - started
            loads = site_build(scale=demo_scale, seed=seed, now=site_now, batch_size=batch_size, progress=progress)
        if verbose:
            self.stdout.write(
                f"Demo data built (scale {scale}, seed {seed}, now {site_now.isoformat(timespec='seconds')}):"
            )
            if deleted_in is not None:
                self.stdout.write(f"  {'previous data deleted':<38} {deleted_in:>8.1f} s")
            for load in loads:
                rows = "" if load.rows is None else f"{load.rows:>10,} rows"
                self.stdout.write(f"  {load.label:<22} {rows:>15} {load.seconds:>8.1f} s")
            self.stdout.write(
                self.style.SUCCESS(
                    f"  {'total':<22} {sum(x.rows or 0 for x in loads):>10,} rows {time.monotonic() - started:>8.1f} s"
                )
            )

    @staticmethod
    def _planned(scale: DemoScale) -> dict[str, int]:
        return {
            "users": scale.users,
            "spaces": scale.spaces,
            "pages and blog posts": scale.contents,
            "comments": scale.comments,
            "analytics events": scale.events,
        }
