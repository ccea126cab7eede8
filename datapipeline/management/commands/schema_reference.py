"""Print, write or check the schema reference generated from the dataset registry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.schema_reference import DOC_PATH, reference_path, render_reference


class Command(BaseCommand):
    help = f"Print the export schema reference (Markdown); --write updates {DOC_PATH}, --check verifies it."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--write", action="store_true", help=f"Write {DOC_PATH}.")
        group.add_argument("--check", action="store_true", help=f"Fail if {DOC_PATH} is not up to date.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = render_reference()
        path = reference_path()
        if options["check"]:
            current = path.read_text(encoding="utf-8") if path.is_file() else None
            if current != text:
                raise CommandError(
                    f"{path} is out of date with the dataset registry; run: python manage.py schema_reference --write"
                )
            self.stdout.write(f"{path} is up to date.")
        elif options["write"]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {path}.")
        else:
            self.stdout.write(text, ending="")
