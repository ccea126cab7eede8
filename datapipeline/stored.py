"""Looked-up values stored on the rows: PostgreSQL triggers keep a row's column equal to what a lookup
(:class:`~datapipeline.registry.Lookup` with ``stored``) reads from another table, so the COPY path
reads the column instead of looking the value up for every row.

A user's key is written in every page, comment and analytics event: read through the profiles'
unique index, two look-ups per comment took half of PostgreSQL's time for the comments file
(server-side ``COPY`` of the export's SELECT on the full demo site: 5.5-5.9 s with the look-ups,
2.6-2.9 s with the keys read from the row). Confluence keeps user keys on its content rows too.

The invariant, ``row.stored = (SELECT value FROM source WHERE match = row.outer)``, holds through:

- a ``BEFORE INSERT OR UPDATE`` trigger on the rows' table that computes every stored column of the
  new row (whatever the statement wrote there: a stale or made-up value cannot stay);
- an ``AFTER INSERT OR DELETE OR UPDATE`` trigger on the source table (a profile made, removed, or
  its key changed) that touches the rows naming it, so the first trigger computes them again.

``install`` also fills the columns of the rows already there, with the tables' other triggers off
(the exported values do not change, so the change log must not say they did). On other databases
nothing is installed: only the COPY path reads the columns, and it runs on PostgreSQL alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from .registry import Dataset, Lookup


@dataclass(frozen=True)
class StoredLookup:
    """``table.column`` holds ``source_table.value`` of the row whose ``match`` is ``table.outer``."""

    table: str
    column: str
    outer: str
    source_table: str
    match: str
    value: str


def stored_lookups(datasets: Iterable[Dataset]) -> list[StoredLookup]:
    """The stored lookups the datasets' columns read, as database columns (each once)."""
    found: dict[StoredLookup, None] = {}
    for dataset in datasets:
        model = dataset.rows().model
        for lookup in dataset.lookups().values():
            if lookup.stored:
                found[_columns(model, lookup)] = None
    return list(found)


def _columns(model: Any, lookup: Lookup) -> StoredLookup:
    field = model._meta.get_field
    source = lookup.model._meta.get_field
    return StoredLookup(
        table=model._meta.db_table,
        column=field(lookup.stored).column,
        outer=field(lookup.outer).column,
        source_table=lookup.model._meta.db_table,
        match=source(lookup.match).column,
        value=source(lookup.value).column,
    )


def _value(s: StoredLookup, row: str) -> str:
    """The looked-up value for ``row`` (``NEW``, or a table alias) as SQL."""
    return f'(SELECT v."{s.value}" FROM "{s.source_table}" AS v WHERE v."{s.match}" = {row}."{s.outer}")'  # noqa: S608


def _touch(s: StoredLookup, row: str) -> str:
    """Rewrite the rows naming ``row``'s key holder (``OLD`` or ``NEW``): their own trigger computes them."""
    return f'UPDATE "{s.table}" SET "{s.column}" = NULL WHERE "{s.outer}" = {row}."{s.match}";'  # noqa: S608


def _name(table: str) -> str:
    return f"dp_{table}_stored"[:60]


def trigger_sql(stored: Sequence[StoredLookup]) -> list[str]:
    """The functions and triggers (PostgreSQL) that keep the stored columns equal to their lookups."""
    statements: list[str] = []
    for table, group in groupby(sorted(stored, key=lambda s: s.table), key=lambda s: s.table):
        computed = "\n".join(f'NEW."{s.column}" := {_value(s, "NEW")};' for s in group)
        statements += [
            f"CREATE OR REPLACE FUNCTION {_name(table)}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{computed}\nRETURN NEW;\nEND $$;",
            f'CREATE TRIGGER {_name(table)} BEFORE INSERT OR UPDATE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {_name(table)}();",
        ]
    for source, group in groupby(sorted(stored, key=lambda s: s.source_table), key=lambda s: s.source_table):
        lookups = list(group)
        old, new = ("\n".join(_touch(s, row) for s in lookups) for row in ("OLD", "NEW"))
        watched = ", ".join(sorted({f'"{s.match}"' for s in lookups} | {f'"{s.value}"' for s in lookups}))
        statements += [
            f"CREATE OR REPLACE FUNCTION {_name(source)}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\nIF TG_OP <> 'INSERT' THEN\n{old}\nEND IF;\n"
            f"IF TG_OP <> 'DELETE' THEN\n{new}\nEND IF;\nRETURN NULL;\nEND $$;",
            f'CREATE TRIGGER {_name(source)} AFTER INSERT OR DELETE OR UPDATE OF {watched} ON "{source}" '
            f"FOR EACH ROW EXECUTE FUNCTION {_name(source)}();",
        ]
    return statements


def fill_sql(stored: Sequence[StoredLookup]) -> list[str]:
    """Fill the stored columns of the rows already there, one pass per table, the table's triggers off
    (a table with deferred constraint checks pending cannot have them switched: they are run first)."""
    statements: list[str] = ["SET CONSTRAINTS ALL IMMEDIATE;"]
    for table, group in groupby(sorted(stored, key=lambda s: s.table), key=lambda s: s.table):
        assignments = ", ".join(f'"{s.column}" = {_value(s, "r")}' for s in group)
        statements += [
            f'ALTER TABLE "{table}" DISABLE TRIGGER USER;',
            f'UPDATE "{table}" AS r SET {assignments};',  # noqa: S608 - DDL from the registry's own names
            f'ALTER TABLE "{table}" ENABLE TRIGGER USER;',
        ]
    return statements


def drop_sql(stored: Sequence[StoredLookup]) -> list[str]:
    statements: list[str] = []
    for table in sorted({s.table for s in stored} | {s.source_table for s in stored}):
        statements += [
            f'DROP TRIGGER IF EXISTS {_name(table)} ON "{table}";',
            f"DROP FUNCTION IF EXISTS {_name(table)}();",
        ]
    return statements


def install(schema_editor: Any, datasets: Iterable[Dataset]) -> None:
    """Fill the stored columns and install their triggers (PostgreSQL; elsewhere nothing)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    stored = stored_lookups(datasets)
    for statement in [*fill_sql(stored), *trigger_sql(stored)]:
        schema_editor.execute(statement)


def remove(schema_editor: Any, datasets: Iterable[Dataset]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in drop_sql(stored_lookups(datasets)):
        schema_editor.execute(statement)
