"""Start an export: queue it (default; --wait follows it) or run it here with a progress bar (--foreground)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import PipelineError
from datapipeline.jobfiles import MANIFEST_NAME, job_dir, read_manifest_files
from datapipeline.shutdown import ShutdownWatch
from exports.jobs import job_run
from exports.models import JobStatus, Trigger
from exports.selectors import job_to_dict
from exports.services import export_start

from ._progress import ProgressDisplay


class Command(BaseCommand):
    help = (
        "Start a data pipeline export (progress and results on stdout, warnings and errors on stderr). "
        "By default the job is queued for the task cluster (qcluster) and its "
        "JSON printed; with --foreground it runs in this process with a progress bar, then prints the job's "
        "final JSON and the files written. Exits non-zero if the export is refused, fails or is cancelled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from-date",
            help="Export pages, comments and analytics changed at or after this ISO 8601 time with an offset "
            "(e.g. 2026-01-31T00:00:00Z); default: now minus 365 days.",
        )
        parser.add_argument("--schema-version", help="Schema version to export (default: the active one).")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument(
            "--incremental",
            action="store_true",
            help="Only what changed since the last completed export of the same schema version, plus the keys "
            "deleted since (no such export: a full export).",
        )
        kind.add_argument("--mode", help="FULL (default) or INCREMENTAL, any case (--incremental is INCREMENTAL).")
        parser.add_argument(
            "--reconcile",
            action="store_true",
            help="With --incremental: also compare the keys of the base chain's files with the site's and report "
            "those gone around the change log as deleted (refused above the max.deleted.share without --force).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Turn pre-validation failures (e.g. low disk space) into warnings."
        )
        parser.add_argument(
            "--format",
            dest="file_format",
            default=None,
            help="The files' format: csv (the default) or parquet, in any case.",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--foreground", action="store_true", help="Run the export now, in this process.")
        mode.add_argument(
            "--wait",
            action="store_true",
            help="Queue the export for the task cluster, then show its progress until it ends.",
        )
        parser.add_argument(
            "--wait-timeout",
            type=float,
            default=None,
            help="With --wait: give up waiting after this many seconds (the export goes on).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        foreground = options["foreground"]
        try:
            job = export_start(
                from_date=options["from_date"],
                schema_version=options["schema_version"],
                file_format=options["file_format"],
                force_export=options["force"],
                mode="INCREMENTAL" if options["incremental"] else options["mode"],
                reconcile=options["reconcile"],
                trigger=Trigger.COMMAND,
                enqueue=not foreground,
            )
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        if job.status == JobStatus.FAILED:  # refused by pre-validation: the row records why
            self.stdout.write(json.dumps(job_to_dict(job), indent=2))
            raise CommandError(f"Export {job.pk} failed before it started: " + _messages(job.errors))
        for warning in job.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning['message']}"))
        if options["wait"]:
            job = self._wait(job, timeout=options["wait_timeout"])
            self.stdout.write(json.dumps(job_to_dict(job), indent=2))
            self._print_files(job_dir(job))
            if job.status != JobStatus.COMPLETED:
                raise CommandError(f"Export {job.pk} ended {job.status}: " + (_messages(job.errors) or "no error"))
            return
        if not foreground:
            self.stdout.write(json.dumps(job_to_dict(job), indent=2))
            return

        self.stdout.write(
            f"Export {job.pk} running in the foreground (schema v{job.schema_version}, {job.file_format}) ..."
        )
        progress = ProgressDisplay(self.stdout, tty=self.stdout.isatty())
        # SIGTERM (kill, a container stop) only sets a flag: the export stops after its current batch
        # and ends CANCELLED, never with a query cut in half on its connection.
        watch = ShutdownWatch()
        with watch.signals_handled():
            try:
                job = job_run(job.pk, on_progress=progress, stop_check=watch.reason)
            except KeyboardInterrupt as exc:
                # The runner has ended the job CANCELLED and written the manifest before re-raising.
                job.refresh_from_db()
                self.stdout.write(json.dumps(job_to_dict(job), indent=2))
                raise CommandError(f"Export {job.pk} interrupted ({type(exc).__name__}): {job.status}.") from None
        if watch.received_signal:
            self.stdout.write(json.dumps(job_to_dict(job), indent=2))
            raise CommandError(f"Export {job.pk} interrupted ({watch.signal_name}): {job.status}.")
        self.stdout.write(json.dumps(job_to_dict(job), indent=2))
        self._print_files(job_dir(job))
        if job.status != JobStatus.COMPLETED:
            raise CommandError(f"Export {job.pk} ended {job.status}: " + (_messages(job.errors) or "no error recorded"))

    def _wait(self, job: Any, *, timeout: float | None) -> Any:
        """Follow a queued job through its row (progress, status) until it is terminal."""
        self.stdout.write(f"Export {job.pk} queued; waiting for the task cluster (manage.py qcluster) to run it ...")
        progress = ProgressDisplay(self.stdout, tty=self.stdout.isatty())
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job.refresh_from_db()
            progress(job.statistics or {})
            if job.is_terminal:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(
                    f"Export {job.pk} is still {job.status} after {timeout:g} s; it goes on in the background "
                    "(is a qcluster running?). Follow it with manage.py export_status."
                )
            time.sleep(0.5)

    def _print_files(self, directory: Path) -> None:
        files = read_manifest_files(directory)
        if files is None:
            return
        self.stdout.write(f"Files in {directory}:")
        for item in files:
            self.stdout.write(f"  {item['file']}  {item['rows']:,} rows  {item['bytes']:,} bytes")
        self.stdout.write(f"  {MANIFEST_NAME}")


def _messages(entries: list[dict[str, str]]) -> str:
    return " ".join(e["message"] for e in entries)
