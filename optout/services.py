"""The opt-out list: spaces excluded from every export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from datapipeline.errors import (
    KEY_OPTOUT_LIMIT,
    KEY_OPTOUT_NOT_FOUND,
    KEY_OPTOUT_TYPE,
    InvalidParameter,
    entry,
)
from datapipeline.properties import get_property

from .models import OptOutSpace

SUPPORTED_TYPES = (OptOutSpace.TYPE_SPACE,)


def optout_list() -> list[str]:
    return list(OptOutSpace.objects.order_by("space_key").values_list("space_key", flat=True))


def _check_type(entity_type: object) -> None:
    if entity_type not in SUPPORTED_TYPES:
        raise InvalidParameter(
            f"Unsupported opt-out type {entity_type!r}; the only supported type is SPACE.", key=KEY_OPTOUT_TYPE
        )


def _clean_keys(keys: Iterable[Any]) -> list[str]:
    cleaned = []
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise InvalidParameter(f"Space keys must be non-empty strings, got {key!r}.", key=KEY_OPTOUT_NOT_FOUND)
        if key not in cleaned:
            cleaned.append(key)
    return cleaned


@transaction.atomic
def optout_add(
    *,
    keys: Iterable[Any],
    entity_type: object = "SPACE",
    continue_if_not_found: bool = False,
    user: Any = None,
    via: str = "",
) -> list[str]:
    """Add space keys; unknown keys are refused unless ``continue_if_not_found``. Returns the list."""
    from exports.services import audit_record  # exports depends on this module
    from wiki.models import Space

    _check_type(entity_type)
    wanted = _clean_keys(keys)
    existing = set(Space.objects.filter(key__in=wanted).values_list("key", flat=True))
    missing = [k for k in wanted if k not in existing]
    if missing and not continue_if_not_found:
        raise InvalidParameter(
            f"No space with key {', '.join(missing)}; nothing was added (use continueIfNotFound to skip unknown keys).",
            key=KEY_OPTOUT_NOT_FOUND,
            errors=[entry(KEY_OPTOUT_NOT_FOUND, f"No space with key {k!r}.") for k in missing],
        )
    to_add = [k for k in wanted if k in existing]
    already = set(OptOutSpace.objects.filter(space_key__in=to_add).values_list("space_key", flat=True))
    new = [k for k in to_add if k not in already]
    limit = get_property("plugin.data.pipeline.optout.count.limit")
    count = OptOutSpace.objects.count()
    if count + len(new) > limit:
        raise InvalidParameter(
            f"The opt-out list would hold {count + len(new)} spaces, over the limit of {limit} "
            "(plugin.data.pipeline.optout.count.limit); nothing was added.",
            key=KEY_OPTOUT_LIMIT,
        )
    OptOutSpace.objects.bulk_create(
        [OptOutSpace(space_key=k, created_by=user if getattr(user, "pk", None) else None) for k in new]
    )
    audit_record(action="optout.add", user=user, via=via, added=new, skipped=missing)
    return optout_list()


@transaction.atomic
def optout_remove(
    *,
    keys: Iterable[Any],
    entity_type: object = "SPACE",
    continue_if_not_found: bool = False,
    user: Any = None,
    via: str = "",
) -> list[str]:
    """Remove space keys; keys not on the list are refused unless ``continue_if_not_found``."""
    from exports.services import audit_record

    _check_type(entity_type)
    wanted = _clean_keys(keys)
    present = set(OptOutSpace.objects.filter(space_key__in=wanted).values_list("space_key", flat=True))
    missing = [k for k in wanted if k not in present]
    if missing and not continue_if_not_found:
        raise InvalidParameter(
            f"Not on the opt-out list: {', '.join(missing)}; nothing was removed.",
            key=KEY_OPTOUT_NOT_FOUND,
            errors=[entry(KEY_OPTOUT_NOT_FOUND, f"Space {k!r} is not on the opt-out list.") for k in missing],
        )
    OptOutSpace.objects.filter(space_key__in=present).delete()
    audit_record(action="optout.remove", user=user, via=via, removed=sorted(present), skipped=missing)
    return optout_list()
