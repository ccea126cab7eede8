"""Ask the running export (or a given job) to stop."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import PipelineError
from exports.jobs import export_cancel
from exports.models import Trigger


class Command(BaseCommand):
    help = "Cancel the latest export, or the one given by --job-id. Finished files stay on disk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--job-id", type=int, help="The job to cancel (default: the latest).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            job = export_cancel(job_id=options["job_id"], via=Trigger.COMMAND)
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Export {job.pk}: {job.status}")
