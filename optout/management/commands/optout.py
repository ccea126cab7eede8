"""List, add or remove keys on the opt-out list (space keys; other registered scopes with --type)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.errors import PipelineError
from exports.inputs import parse_optout_type
from optout.services import optout_add, optout_list, optout_remove, supported_types


class Command(BaseCommand):
    help = (
        "Manage the keys excluded from every export: optout list | optout add KEY... | optout remove KEY... "
        "(space keys; --type PROJECT and so on for the other opt-out scopes the site's datasets register)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", default="list", choices=["list", "add", "remove"])
        parser.add_argument("keys", nargs="*", metavar="KEY", help="Space keys (or keys of the --type).")
        parser.add_argument(
            "--type",
            dest="entity_type",
            metavar="TYPE",
            help="The opt-out scope of the keys: SPACE (the default for add and remove) or another registered one. "
            "'list' without it lists every scope.",
        )
        parser.add_argument(
            "--continue-if-not-found",
            action="store_true",
            help="Skip unknown keys instead of refusing the whole request.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action, keys, entity_type = options["action"], options["keys"], options["entity_type"]
        if action == "list" and keys:
            raise CommandError(f"'optout list' takes no keys, got: {' '.join(keys)}.")
        types = supported_types()
        thing = f"{entity_type.lower()} key" if entity_type else "space key" if types == ["SPACE"] else "key"
        if action != "list" and not keys:
            raise CommandError(f"'optout {action}' needs at least one {thing}.")
        try:
            if entity_type is not None:
                entity_type = parse_optout_type(entity_type).type  # names the supported types if it is none
            request = {"keys": keys, "continue_if_not_found": options["continue_if_not_found"]}
            if action == "add":
                listed = optout_add(**request, entity_type=entity_type or types[0]).listed
            elif action == "remove":
                listed = optout_remove(**request, entity_type=entity_type or types[0]).listed
            elif entity_type is not None or len(types) == 1:
                listed = optout_list(entity_type or types[0])
            else:  # every scope, each key after its type
                listed = [f"{t} {key}" for t in types for key in optout_list(t)]
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        if not listed:
            self.stdout.write("The opt-out list is empty.")
        for key in listed:
            self.stdout.write(key)
