"""List, add or remove spaces on the opt-out list."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import PipelineError
from optout.services import optout_add, optout_list, optout_remove


class Command(BaseCommand):
    help = "Manage the spaces excluded from every export: optout list | optout add KEY... | optout remove KEY..."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", default="list", choices=["list", "add", "remove"])
        parser.add_argument("keys", nargs="*", metavar="KEY", help="Space keys.")
        parser.add_argument(
            "--continue-if-not-found",
            action="store_true",
            help="Skip unknown keys instead of refusing the whole request.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action, keys = options["action"], options["keys"]
        if action == "list" and keys:
            raise CommandError(f"'optout list' takes no keys, got: {' '.join(keys)}.")
        if action != "list" and not keys:
            raise CommandError(f"'optout {action}' needs at least one space key.")
        try:
            if action == "add":
                listed = optout_add(keys=keys, continue_if_not_found=options["continue_if_not_found"]).listed
            elif action == "remove":
                listed = optout_remove(keys=keys, continue_if_not_found=options["continue_if_not_found"]).listed
            else:
                listed = optout_list()
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        if not listed:
            self.stdout.write("The opt-out list is empty.")
        for key in listed:
            self.stdout.write(key)
