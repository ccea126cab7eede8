"""Show, set or reset the root export path."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import PipelineError
from datapipeline.paths import export_root
from exports.configuration import export_path_reset, export_path_set


class Command(BaseCommand):
    help = "Root export path: export_path show | export_path set /abs/dir | export_path reset (to the default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", default="show", choices=["show", "set", "reset"])
        parser.add_argument("path", nargs="?", help="For 'set': an absolute, writable (or creatable) directory.")

    def handle(self, *args: Any, **options: Any) -> None:
        action, path = options["action"], options["path"]
        if action == "set" and path is None:
            raise CommandError("'export_path set' needs a path, e.g. export_path set /srv/exports.")
        if action != "set" and path is not None:
            raise CommandError(f"'export_path {action}' takes no path, got {path!r}.")
        try:
            if action == "set":
                export_path_set(path=path)
            elif action == "reset":
                export_path_reset()
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        root, custom = export_root()
        self.stdout.write(f"{root} ({'custom' if custom else 'default'})")
