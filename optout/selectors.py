"""Reading the opt-out list as entities: ``{type, identifier, key, displayName, uri}`` per key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datapipeline.queries import filter_in
from datapipeline.registry import scope, scopes

from .models import OptOutSpace

__all__ = ["filter_in", "optout_entities", "scope_entities"]


def scope_entities(scope_type: str, keys: Iterable[str]) -> list[dict[str, Any]]:
    """One entity per key of the scope, in the given order; a key naming nothing has null identifier,
    displayName and uri."""
    found = scope(scope_type)
    keys = list(keys)
    if found is None:
        return [{"type": scope_type, "identifier": None, "key": k, "displayName": None, "uri": None} for k in keys]
    return found.entities(keys)


def optout_entities() -> list[dict[str, Any]]:
    """The opted-out keys, scope by scope (in registration order), by key."""
    listed = OptOutSpace.objects.order_by("space_key")
    return [
        entity
        for s in scopes()
        for entity in scope_entities(s.type, listed.filter(scope=s.type).values_list("space_key", flat=True))
    ]
