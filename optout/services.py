"""The opt-out list (services): keys of the registered opt-out scopes (spaces, projects, ...) excluded
from every export. Input is read by ``exports.inputs``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from datapipeline.errors import KEY_OPTOUT_LIMIT, KEY_OPTOUT_NOT_FOUND, InvalidParameter, entry
from datapipeline.properties import get_property
from datapipeline.queries import filter_in
from datapipeline.registry import OptOutScope, scope_types
from exports.audit import audit_record
from exports.inputs import parse_optout_keys, parse_optout_type

from .models import OptOutSpace


@dataclass(frozen=True)
class OptOutChange:
    """What an add or remove did: the keys it processed, the keys it skipped, the list after it."""

    processed: list[str]
    not_found: list[str]
    listed: list[str]
    type: str = OptOutSpace.TYPE_SPACE
    added: list[str] = field(default_factory=list, compare=False)  # keys new on the list (add only)


def supported_types() -> list[str]:
    """The opt-out types: the scopes the exported datasets register (``SPACE`` for the wiki)."""
    return scope_types()


def optout_list(scope_type: str = OptOutSpace.TYPE_SPACE) -> list[str]:
    """The opted-out keys of one scope, sorted."""
    listed = OptOutSpace.objects.filter(scope=scope_type).order_by("space_key")
    return list(listed.values_list("space_key", flat=True))


def optout_snapshot() -> dict[str, list[str]]:
    """Every scope's opted-out keys, as an export job keeps them: ``{"SPACE": [...], ...}``."""
    return {t: optout_list(t) for t in supported_types()}


def optout_spaces(scope_type: str = OptOutSpace.TYPE_SPACE) -> list[dict[str, Any]]:
    """The opt-out list for a screen: each key with its display name (None: nothing has that key)."""
    keys = optout_list(scope_type)
    found = parse_optout_type(scope_type)
    names = {e["key"]: e["displayName"] for e in found.entities(keys) if e["identifier"] is not None}
    return [{"key": k, "name": names.get(k)} for k in keys]


def optout_by_scope() -> list[dict[str, Any]]:
    """The opt-out list for the admin screen, one entry per registered scope: ``type``, ``noun`` (its
    things, in the plural: "spaces", "projects") and ``entries`` (``optout_spaces``)."""
    return [{"type": t, "noun": f"{t.lower()}s", "entries": optout_spaces(t)} for t in supported_types()]


@transaction.atomic
def _change(
    apply: Callable[..., OptOutChange],
    *,
    keys: Iterable[Any] | str,
    entity_type: object = "SPACE",
    continue_if_not_found: bool = False,
    user: Any = None,
    via: str = "",
) -> OptOutChange:
    """Check the type and keys (``exports.inputs``), then ``apply(found, wanted, continue_if_not_found, user, via)``."""
    found = parse_optout_type(entity_type)
    return apply(found, parse_optout_keys(keys), continue_if_not_found, user, via)


def optout_add(**request: Any) -> OptOutChange:
    """Add keys (``keys``, ``entity_type``, ``continue_if_not_found``, ``user``, ``via``); unknown keys
    are refused unless ``continue_if_not_found``, else skipped. ``added``: the keys new on the list."""
    return _change(_add, **request)


def optout_remove(**request: Any) -> OptOutChange:
    """Remove keys (same arguments as ``optout_add``); keys not on the list are refused unless
    ``continue_if_not_found``, else skipped."""
    return _change(_remove, **request)


def _refuse_missing(missing: list[str], continue_if_not_found: bool, refusal: str, each: str) -> None:
    """Unless ``continue_if_not_found``, keys that were not found refuse the whole change."""
    if missing and not continue_if_not_found:
        raise InvalidParameter(
            refusal.format(keys=", ".join(missing)),
            key=KEY_OPTOUT_NOT_FOUND,
            errors=[entry(KEY_OPTOUT_NOT_FOUND, each.format(key=k)) for k in missing],
        )


def _add(found: OptOutScope, wanted: list[str], continue_if_not_found: bool, user: Any, via: str) -> OptOutChange:
    thing = found.type.lower()
    existing = found.existing(wanted)
    missing = [k for k in wanted if k not in existing]
    _refuse_missing(
        missing,
        continue_if_not_found,
        f"No {thing} with key {{keys}}; nothing was added (use continueIfNotFound to skip unknown keys).",
        f"No {thing} with key {{key!r}}.",
    )
    to_add = [k for k in wanted if k in existing]
    listed = OptOutSpace.objects.filter(scope=found.type)
    already = set(listed.filter(space_key__in=to_add).values_list("space_key", flat=True))
    new = [k for k in to_add if k not in already]
    limit = get_property("plugin.data.pipeline.optout.count.limit")
    count = OptOutSpace.objects.count()  # the limit counts every scope's keys
    listed_things = f"{thing}s" if supported_types() == [found.type] else "keys"
    if count + len(new) > limit:
        raise InvalidParameter(
            f"The opt-out list would hold {count + len(new)} {listed_things}, over the limit of {limit} "
            "(plugin.data.pipeline.optout.count.limit); nothing was added.",
            key=KEY_OPTOUT_LIMIT,
        )
    creator = user if getattr(user, "pk", None) else None
    OptOutSpace.objects.bulk_create([OptOutSpace(scope=found.type, space_key=k, created_by=creator) for k in new])
    audit_record(action="optout.add", user=user, via=via, **_scoped(found, added=new, skipped=missing))
    listed_now = optout_list(found.type)
    return OptOutChange(processed=to_add, not_found=missing, listed=listed_now, type=found.type, added=new)


def _remove(found: OptOutScope, wanted: list[str], continue_if_not_found: bool, user: Any, via: str) -> OptOutChange:
    listed = OptOutSpace.objects.filter(scope=found.type)
    present = set(filter_in(listed, "space_key", wanted).values_list("space_key", flat=True))
    missing = [k for k in wanted if k not in present]
    _refuse_missing(
        missing,
        continue_if_not_found,
        "Not on the opt-out list: {keys}; nothing was removed.",
        f"{found.type.capitalize()} {{key!r}} is not on the opt-out list.",
    )
    listed.filter(space_key__in=present).delete()
    audit_record(action="optout.remove", user=user, via=via, **_scoped(found, removed=sorted(present), skipped=missing))
    processed = [k for k in wanted if k in present]
    return OptOutChange(processed=processed, not_found=missing, listed=optout_list(found.type), type=found.type)


def _scoped(found: OptOutScope, **details: Any) -> dict[str, Any]:
    """The audit details; the scope is named when it is not SPACE (SPACE entries read as before)."""
    return details if found.type == OptOutSpace.TYPE_SPACE else {"scope": found.type, **details}
