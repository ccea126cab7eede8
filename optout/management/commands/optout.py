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
        action, keys, given = options["action"], options["keys"], options["entity_type"]
        if action == "list" and keys:
            raise CommandError(f"'optout list' takes no keys, got: {' '.join(keys)}.")
        types = supported_types()
        try:
            # The type first: a bad one is refused naming the supported ones.
            scope_type = parse_optout_type(given).type if given is not None else types[0]
            if action != "list" and not keys:
                raise CommandError(f"'optout {action}' needs at least one {scope_type.lower()} key.")
            request = {
                "keys": keys,
                "entity_type": scope_type,
                "continue_if_not_found": options["continue_if_not_found"],
            }
            if action == "add":
                listed = optout_add(**request).listed
            elif action == "remove":
                listed = optout_remove(**request).listed
            elif given is not None or len(types) == 1:
                listed = optout_list(scope_type)
            else:  # every scope, each key after its type
                listed = [f"{t} {key}" for t in types for key in optout_list(t)]
        except PipelineError as exc:
            raise CommandError(exc.message) from None
        if not listed:
            self.stdout.write("The opt-out list is empty.")
        for key in listed:
            self.stdout.write(key)
