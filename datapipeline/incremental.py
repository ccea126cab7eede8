"""Incremental exports: which rows changed since the base export, and which keys disappeared.

An incremental export writes, per dataset, the rows of the full export's filter (fromDate, opt-outs,
the dataset's own filter) that the change log (``datapipeline.changes``) names since ``since`` (the
base's start minus the lookback), plus the rows of things whose opt-out was removed since the base.
Its deleted keys are the keys the change log recorded (a row's key before each update or delete) and
the keys of the rows of things opted out since the base, less every key the dataset holds now: so
"upsert the rows, then delete the keys" turns the base's files into a full export's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, Q, QuerySet

from .models import ChangeLog
from .registry import Dataset, opted_out_ids

CHUNK = 1000  # keys checked per query


@dataclass(frozen=True)
class Increment:
    """What an incremental export needs beyond a full one's values."""

    since: datetime  # changes at or after this instant are exported
    until: datetime  # the instant the changes run up to (the job's start; later ones may be included)
    base_opted_out: Any  # the base job's opt-out snapshot

    def opt_out_moves(self, dataset: Dataset, opted_out: Mapping[str, Sequence[Any]]) -> tuple[set[Any], set[Any]]:
        """Ids of ``dataset``'s scope opted out since the base, and those whose opt-out was removed."""
        if not dataset.optout_scope:
            return set(), set()
        now = set(opted_out.get(dataset.optout_scope, ()))
        before = set(opted_out_ids(self.base_opted_out).get(dataset.optout_scope, ()))
        return now - before, before - now


def key_path(dataset: Dataset) -> str:
    return next(c for c in dataset.columns if c.name == dataset.key).source_path


def changed_log(dataset: Dataset, since: datetime) -> QuerySet[Any]:
    return ChangeLog.objects.filter(dataset=dataset.name, changed_at__gte=since)


def changed_rows(
    dataset: Dataset, queryset: QuerySet[Any], opted_out: Mapping[str, Sequence[Any]], increment: Increment
) -> QuerySet[Any]:
    """``queryset`` (the full export's rows) narrowed to the rows changed since the base, and those back
    from an opt-out."""
    condition = Q(pk__in=changed_log(dataset, increment.since).values("row_pk"))
    _added, back = increment.opt_out_moves(dataset, opted_out)
    if back:
        condition |= Q(**{f"{dataset.optout_field}__in": sorted(back)})
    return queryset.filter(condition)


def _natural(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def deleted_keys(
    dataset: Dataset, export_from: Any, opted_out: Mapping[str, Sequence[Any]], increment: Increment
) -> Iterator[tuple[str, datetime]]:
    """The keys that left the dataset since the base, with when (in key order)."""
    path = key_path(dataset)
    recorded = (
        changed_log(dataset, increment.since)
        .filter(key__isnull=False)
        .order_by()
        .values("key")
        .annotate(at=Max("changed_at"))
        .values_list("key", "at")
    )
    candidates: dict[str, datetime] = dict(recorded.iterator(chunk_size=CHUNK))
    added, _back = increment.opt_out_moves(dataset, opted_out)
    if added:
        gone = dataset.rows().filter(**{f"{dataset.optout_field}__in": sorted(added)}).values_list(path, flat=True)
        for key in gone.iterator(chunk_size=CHUNK):
            if key is not None:
                candidates.setdefault(str(key), increment.until)
    present_rows = dataset.queryset(export_from, opted_out)
    ordered = sorted(candidates, key=_natural)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        present = {str(k) for k in present_rows.filter(**{f"{path}__in": chunk}).values_list(path, flat=True)}
        for key in chunk:
            if key not in present:
                yield key, candidates[key]
