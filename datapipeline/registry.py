"""The dataset registry: what each exported file holds, declared by the app that owns the data.

An app declares its datasets in a ``datasets.py`` module (discovered when the pipeline's app is
ready, see ``datapipeline.apps``) with :func:`register_dataset`, and the opt-out scopes its
datasets filter on with :func:`register_scope`. Registration order is file order. The engine
reads everything from here and imports no app's models.

To add a column, append it to the dataset with ``since=<latest version>``; for a breaking change,
add a version to ``datapipeline.schema.VERSIONS`` and give the changed columns ``since``/``until``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Model, OuterRef, QuerySet, Subquery

from .kinds import URL, Kind


@dataclass(frozen=True)
class Lookup:
    """A value read from another table through a unique key: ``model.value`` where ``model.match`` is the row's
    ``outer``.

    The standard path reads ``path`` (an ORM path) with values_list; the COPY path reads the value with an
    index lookup per row (a subquery), or for large batches one hashed join (``match`` is unique, so the
    join gives each row at most one value, as the subquery does). With ``stored`` (a field of the row
    that ``datapipeline.stored``'s PostgreSQL triggers keep equal to the looked-up value), the COPY path
    reads that field instead: no lookup at all.
    """

    path: str
    model: type[Model]
    match: str
    outer: str
    value: str
    stored: str | None = None

    def expression(self) -> Subquery:
        return Subquery(self.model.objects.filter(**{self.match: OuterRef(self.outer)}).values(self.value)[:1])


@dataclass(frozen=True)
class Column:
    """One column: its kind, meaning, the versions that have it and where its value comes from.

    ``source`` is an ORM path (or a :class:`Lookup`) read with values_list; a URL column builds a link
    from ``url``, a format string over sources (``"/display/{key}"``; empty: the site's URL).
    """

    name: str
    kind: Kind
    description: str
    source: str | Lookup | None = None
    url: str | None = None
    since: int = 1
    until: int | None = None
    max_length: dict[int, int] = field(default_factory=dict)  # version -> truncation length
    mapping: dict[Any, str] = field(default_factory=dict)  # database value -> exported text

    @property
    def source_path(self) -> str:
        return self.source.path if isinstance(self.source, Lookup) else (self.source or "")

    def in_version(self, version: int) -> bool:
        return self.since <= version and (self.until is None or version <= self.until)


INSTANCE_URL = Column("instance_url", URL, "Base URL of the site the row comes from.", url="")


@dataclass(frozen=True)
class OptOutScope:
    """A kind of thing a site can opt out of exports (``SPACE``, ``PROJECT``, ``REPOSITORY``), by key.

    ``ids`` turns keys into the values a dataset's ``optout_field`` holds (unknown keys are left out);
    ``entities`` describes keys as the opt-out API answers them (``{type, identifier, key, displayName,
    uri}``, identifier null for an unknown key); ``existing`` is the subset of keys that name something.
    """

    type: str
    description: str
    ids: Callable[[list[str]], list[Any]]
    entities: Callable[[list[str]], list[dict[str, Any]]]

    def existing(self, keys: list[str]) -> set[str]:
        return {e["key"] for e in self.entities(keys) if e["identifier"] is not None}


@dataclass(frozen=True)
class Dataset:
    """One exported file: its rows, its key and its columns per schema version.

    ``key`` names the column that identifies a row (incremental exports match rows on it);
    ``date_field`` is the ORM field ``fromDate`` filters on (None: every row), also the row's
    change time; ``optout_scope``/``optout_field``: rows whose ``optout_field`` holds an opted-out
    thing of that scope are left out. ``prepare`` runs before an export (e.g. fills missing keys).
    """

    name: str  # also the file prefix
    description: str
    row_filter: str  # which rows are exported, in words
    key: str
    columns: tuple[Column, ...]
    rows: Callable[[], QuerySet[Any]]
    date_field: str | None = None
    optout_scope: str | None = None
    optout_field: str | None = None
    prepare: Callable[[], None] | None = None

    @property
    def changed_field(self) -> str | None:
        """The field that tells when a row last changed (the one ``fromDate`` filters on)."""
        return self.date_field

    def columns_for(self, version: int) -> list[Column]:
        return [c for c in self.columns if c.in_version(version)]

    def header(self, version: int) -> list[str]:
        return [c.name for c in self.columns_for(version)]

    def typed_columns(self, version: int) -> list[tuple[str, str]]:
        """``(name, logical type)`` per column: a Parquet file's schema and the loader kit's types."""
        return [(c.name, c.kind.logical_type) for c in self.columns_for(version)]

    def queryset(self, export_from: Any, opted_out: Mapping[str, Sequence[Any]]) -> QuerySet[Any]:
        """The rows an export writes: from ``export_from`` on (when the dataset has a date field), without
        those of opted-out things (``opted_out``: ids per scope type, see :func:`opted_out_ids`)."""
        queryset = self.rows()
        if self.date_field:
            queryset = queryset.filter(**{f"{self.date_field}__gte": export_from})
        ids = opted_out.get(self.optout_scope) if self.optout_scope else None
        if ids:
            queryset = queryset.exclude(**{f"{self.optout_field}__in": list(ids)})
        return queryset

    def lookups(self) -> dict[str, Lookup]:
        return {c.source.path: c.source for c in self.columns if isinstance(c.source, Lookup)}


_datasets: dict[str, Dataset] = {}
_scopes: dict[str, OptOutScope] = {}
_notes: dict[str, str] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    """Add a dataset (after those registered before it); its key must be one of its columns."""
    if dataset.name in _datasets and _datasets[dataset.name] != dataset:
        raise ValueError(f"A dataset named {dataset.name!r} is already registered.")
    if dataset.key not in {c.name for c in dataset.columns}:
        raise ValueError(f"Dataset {dataset.name!r}: its key {dataset.key!r} is not one of its columns.")
    if (dataset.optout_scope is None) != (dataset.optout_field is None):
        raise ValueError(f"Dataset {dataset.name!r}: give both optout_scope and optout_field, or neither.")
    _datasets[dataset.name] = dataset
    return dataset


def register_scope(scope: OptOutScope) -> OptOutScope:
    _scopes[scope.type] = scope
    return scope


def register_note(text: str) -> None:
    """A paragraph for the schema reference after the columns, e.g. how an app's files join."""
    _notes[text] = text


def notes() -> list[str]:
    return list(_notes)


def datasets() -> tuple[Dataset, ...]:
    """The datasets an export writes, in file order: all registered ones, or those named by the
    ``DATAPIPELINE_DATASETS`` setting (a list of names, in registration order)."""
    enabled = getattr(settings, "DATAPIPELINE_DATASETS", None)
    return tuple(d for d in _datasets.values() if enabled is None or d.name in enabled)


def dataset(name: str) -> Dataset:
    return _datasets[name]


def scopes() -> tuple[OptOutScope, ...]:
    """The opt-out scopes the exported datasets filter on, in registration order."""
    used = {d.optout_scope for d in datasets()}
    return tuple(s for s in _scopes.values() if s.type in used)


def scope(type_: str) -> OptOutScope | None:
    return next((s for s in scopes() if s.type == type_), None)


def scope_types() -> list[str]:
    return [s.type for s in scopes()]


def scope_keys(snapshot: Sequence[str] | Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """A job's opt-out list as ``{scope type: keys}``; a plain list (jobs before scopes) holds SPACE keys."""
    if snapshot is None:
        return {}
    if isinstance(snapshot, Mapping):
        return {t: list(keys) for t, keys in snapshot.items()}
    return {"SPACE": list(snapshot)}


def opted_out_ids(snapshot: Sequence[str] | Mapping[str, Sequence[str]] | None) -> dict[str, list[Any]]:
    """The ids to leave out per scope type, for the keys of a job's opt-out list."""
    ids: dict[str, list[Any]] = {}
    for type_, keys in scope_keys(snapshot).items():
        found = _scopes.get(type_)
        if found is not None and keys:
            ids[type_] = found.ids(keys)
    return ids


def prepare_all(selected: Iterable[Dataset] | None = None) -> None:
    """Run the datasets' ``prepare`` hooks (each once) before an export reads them."""
    done: set[Any] = set()
    for d in datasets() if selected is None else selected:
        if d.prepare is not None and d.prepare not in done:
            done.add(d.prepare)
            d.prepare()
