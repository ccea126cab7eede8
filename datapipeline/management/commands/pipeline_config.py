"""List, set or reset the configuration properties of the data pipeline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datapipeline.properties import property_values
from exports.configuration import property_reset, property_set
from exports.inputs import parse_property_name


class Command(BaseCommand):
    help = (
        "Configuration properties: pipeline_config list | pipeline_config set NAME VALUE | "
        "pipeline_config reset NAME (back to env, settings or the default)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", default="list", choices=["list", "set", "reset"])
        parser.add_argument("name", nargs="?", help="Property name, e.g. plugin.data.pipeline.optout.count.limit.")
        parser.add_argument("value", nargs="?", help="For 'set': the new value.")

    def handle(self, *args: Any, **options: Any) -> None:
        action, name, value = options["action"], options["name"], options["value"]
        if action != "list":
            if name is None:
                raise CommandError(f"'pipeline_config {action}' needs a property name.")
            try:
                parse_property_name(name)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if action == "set":
            if value is None:
                raise CommandError(f"'pipeline_config set {name}' needs a value.")
            try:
                property_set(name=name, value=value)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        elif action == "reset":
            property_reset(name=name)
        for item in property_values():
            if action == "list" or item["name"] == name:
                self.stdout.write(f"{item['name']} = {item['value']}  ({item['source']})")
                if item["problem"]:
                    self.stderr.write(f"  not used: {item['problem']}.")
