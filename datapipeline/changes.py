"""Change capture for incremental exports: database triggers that record, in ``ChangeLog``, every row of
an exported dataset that was created, changed or deleted, whoever wrote it (a model's ``save``, a bulk
``QuerySet.update()``/``delete()``, the cascades Django runs, raw SQL).

The app that owns the data declares which of its tables feed which dataset (:class:`RowTrigger`) and
which changes of a table change rows of another dataset (:class:`FanoutTrigger`: a space's key is in
every page's row); :func:`trigger_sql` turns the declarations into the DDL of a vendor (PostgreSQL or
SQLite), which the app runs from a migration. The engine imports no app.

Each entry holds the dataset, the dataset row's primary key, the row's export key *before* the change
(an insert has none) and the database clock's time (``clock_timestamp()``: the statement's moment, not
its transaction's start, so a long transaction is covered by the lookback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .models import ChangeLog


@dataclass(frozen=True)
class _TableTrigger:
    """A trigger on ``table``; ``name`` (its function's and trigger's) is ``dp_<table>_<what it feeds>``."""

    table: str

    def feeds(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return f"dp_{self.table}_{self.feeds()}"[:60]


@dataclass(frozen=True)
class RowTrigger(_TableTrigger):
    """Every insert, update and delete of a ``table`` row changes the ``dataset`` row whose primary key is
    the table's column ``row``; ``key`` is the SQL of that row's export key over ``{r}`` (the old row)."""

    dataset: str
    row: str = "id"
    key: str = "{r}.id"

    def feeds(self) -> str:
        return self.dataset


@dataclass(frozen=True)
class FanoutTrigger(_TableTrigger):
    """When ``column`` of a ``table`` row changes (``column`` None: when a row is inserted or deleted), every
    ``dataset`` row of ``child_table`` whose ``child_column`` holds the row's ``parent_column`` changed too
    (a space's key is in its pages' rows; a new profile gives the user's rows a new user key)."""

    column: str | None
    dataset: str
    child_table: str
    child_column: str
    child_pk: str = "id"
    parent_column: str = "id"

    def feeds(self) -> str:
        return f"{self.column or 'row'}_{self.dataset}_{self.child_column}"


Trigger = RowTrigger | FanoutTrigger

_NOW = {"postgresql": "clock_timestamp()", "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')"}
_BOOL = {"postgresql": ("false", "true"), "sqlite": ("0", "1")}


def _log_table() -> str:
    return ChangeLog._meta.db_table


def _insert(vendor: str, dataset: str, row: str, key: str, deleted: bool) -> str:
    flag = _BOOL[vendor][deleted]
    return (
        f'INSERT INTO "{_log_table()}" (dataset, row_pk, key, changed_at, deleted) '  # noqa: S608 - trigger DDL
        f"VALUES ('{dataset}', {row}, {key}, {_NOW[vendor]}, {flag});"
    )


def _fanout_insert(vendor: str, t: FanoutTrigger, row: str = "NEW") -> str:
    return (
        f'INSERT INTO "{_log_table()}" (dataset, row_pk, key, changed_at, deleted) '  # noqa: S608 - trigger DDL
        f"SELECT '{t.dataset}', c.\"{t.child_pk}\", NULL, {_NOW[vendor]}, {_BOOL[vendor][False]} "
        f'FROM "{t.child_table}" AS c WHERE c."{t.child_column}" = {row}."{t.parent_column}";'
    )


def _old_key(t: RowTrigger) -> str:
    return f"CAST({t.key.format(r='OLD')} AS TEXT)"


def trigger_sql(vendor: str, triggers: Sequence[Trigger]) -> list[str]:
    """The statements that create the triggers on ``vendor`` (``postgresql`` or ``sqlite``)."""
    if vendor not in _NOW:
        raise NotImplementedError(f"Change capture has no triggers for the {vendor} database.")
    statements: list[str] = []
    for t in triggers:
        statements.extend(_postgresql(t) if vendor == "postgresql" else _sqlite(t))
    return statements


def drop_sql(vendor: str, triggers: Sequence[Trigger]) -> list[str]:
    statements = []
    for t in triggers:
        if vendor == "postgresql":
            statements += [f'DROP TRIGGER IF EXISTS {t.name} ON "{t.table}";', f"DROP FUNCTION IF EXISTS {t.name}();"]
        else:
            suffixes = ("",) if isinstance(t, FanoutTrigger) and t.column else ("_ins", "_upd", "_del")
            statements += [f"DROP TRIGGER IF EXISTS {t.name}{s};" for s in suffixes]
    return statements


def _postgresql(t: Trigger) -> list[str]:
    if isinstance(t, FanoutTrigger) and t.column is None:
        old, new = _fanout_insert("postgresql", t, "OLD"), _fanout_insert("postgresql", t)
        body = f"IF TG_OP = 'DELETE' THEN {old}\nELSE {new}\nEND IF;"
        when, events = "", "AFTER INSERT OR DELETE"
    elif isinstance(t, FanoutTrigger):
        body = _fanout_insert("postgresql", t)
        when = f'WHEN (OLD."{t.column}" IS DISTINCT FROM NEW."{t.column}")'
        events = f'AFTER UPDATE OF "{t.column}"'
    else:
        body = (
            f"IF TG_OP = 'INSERT' THEN {_insert('postgresql', t.dataset, f'NEW.{t.row}', 'NULL', False)}\n"
            f"ELSIF TG_OP = 'UPDATE' THEN {_insert('postgresql', t.dataset, f'NEW.{t.row}', _old_key(t), False)}\n"
            f"ELSE {_insert('postgresql', t.dataset, f'OLD.{t.row}', _old_key(t), True)}\nEND IF;"
        )
        when, events = "", "AFTER INSERT OR UPDATE OR DELETE"
    return [
        f"CREATE OR REPLACE FUNCTION {t.name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND $$;",
        f'CREATE TRIGGER {t.name} {events} ON "{t.table}" FOR EACH ROW {when} EXECUTE FUNCTION {t.name}();',
    ]


def _sqlite(t: Trigger) -> list[str]:
    if isinstance(t, FanoutTrigger) and t.column is None:
        return [
            f'CREATE TRIGGER {t.name}_ins AFTER INSERT ON "{t.table}" BEGIN {_fanout_insert("sqlite", t)} END;',
            f'CREATE TRIGGER {t.name}_del AFTER DELETE ON "{t.table}" BEGIN {_fanout_insert("sqlite", t, "OLD")} END;',
        ]
    if isinstance(t, FanoutTrigger):
        return [
            f'CREATE TRIGGER {t.name} AFTER UPDATE OF "{t.column}" ON "{t.table}" '
            f'WHEN OLD."{t.column}" IS NOT NEW."{t.column}" BEGIN {_fanout_insert("sqlite", t)} END;'
        ]
    return [
        f'CREATE TRIGGER {t.name}_ins AFTER INSERT ON "{t.table}" '
        f"BEGIN {_insert('sqlite', t.dataset, f'NEW.{t.row}', 'NULL', False)} END;",
        f'CREATE TRIGGER {t.name}_upd AFTER UPDATE ON "{t.table}" '
        f"BEGIN {_insert('sqlite', t.dataset, f'NEW.{t.row}', _old_key(t), False)} END;",
        f'CREATE TRIGGER {t.name}_del AFTER DELETE ON "{t.table}" '
        f"BEGIN {_insert('sqlite', t.dataset, f'OLD.{t.row}', _old_key(t), True)} END;",
    ]


def install_triggers(schema_editor: object, triggers: Sequence[Trigger]) -> None:
    """Create the triggers (from a migration's RunPython: ``schema_editor`` runs the statements)."""
    vendor = schema_editor.connection.vendor  # type: ignore[attr-defined]
    for statement in [*drop_sql(vendor, triggers), *trigger_sql(vendor, triggers)]:
        schema_editor.execute(statement, params=None)  # type: ignore[attr-defined]


def remove_triggers(schema_editor: object, triggers: Sequence[Trigger]) -> None:
    vendor = schema_editor.connection.vendor  # type: ignore[attr-defined]
    for statement in drop_sql(vendor, triggers):
        schema_editor.execute(statement, params=None)  # type: ignore[attr-defined]
