"""Services that count, delete and build the demo site's data in the database.

PostgreSQL gets its rows through ``COPY ... FROM STDIN`` (one stream per table), any other
database through ``bulk_create`` in batches; both read the same generated rows, so the site
is the same on either.
"""

import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max

from ..models import AnalyticsEvent, Comment, Content, Profile, Space
from .generate import DemoPlan
from .scale import DemoScale

# (done, total) of the table being loaded, called after every batch.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TableLoad:
    """What loading one table did."""

    label: str
    rows: int | None  # None for a step that loads no rows
    seconds: float


def site_counts() -> dict[str, int]:
    """How much site data there is, by table: non-superuser users and every wiki table except profiles."""
    User = get_user_model()
    return {
        "users": User.objects.filter(is_superuser=False).count(),
        "spaces": Space.objects.count(),
        "pages and blog posts": Content.objects.count(),
        "comments": Comment.objects.count(),
        "analytics events": AnalyticsEvent.objects.count(),
    }


def site_delete(*, batch_size: int = 2_000) -> None:
    """Delete the site's data: every space, page, comment and event, and every user but the superusers."""
    tables = [m._meta.db_table for m in (AnalyticsEvent, Comment, Content, Space)]
    # TRUNCATE on PostgreSQL, DELETE without WHERE on SQLite: far faster than the ORM's collector.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE refuses a table with deferred FK checks pending from earlier in the transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql in connection.ops.sql_flush(no_style(), tables):
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    # Users go through the ORM, in batches, so every other app's relations (tokens, audit) are honoured.
    User = get_user_model()
    ids = list(User.objects.filter(is_superuser=False).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        User.objects.filter(pk__in=ids[start : start + batch_size]).delete()


@transaction.atomic
def site_build(
    *,
    scale: DemoScale,
    seed: int,
    now: datetime,
    batch_size: int = 5_000,
    progress: ProgressCallback | None = None,
) -> list[TableLoad]:
    """Fill an empty site with the demo data of ``scale``, ``seed`` and ``now``; returns what was loaded per table.

    All or nothing: one transaction. Users and profiles get ids after the highest kept one (the
    superusers'), every wiki table starts at id 1, and the sequences are moved past them.
    """
    User = get_user_model()
    plan = DemoPlan(
        scale,
        seed,
        now=now,
        user_id_base=(User.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
        profile_id_base=(Profile.objects.aggregate(m=Max("pk"))["m"] or 0) + 1,
    )
    targets = [User, Profile, Space, Content, Comment, AnalyticsEvent]
    loads = []
    with _postgresql_bulk_load([m._meta.db_table for m in targets]):
        for model, (label, columns, total, rows) in zip(targets, plan.tables(), strict=True):
            started = time.monotonic()

            def report(done: int, label: str = label, total: int = total) -> None:
                if progress is not None:
                    progress(label, done, total)

            report(0)
            written = _load(model, columns, rows, batch_size=batch_size, report=report)
            loads.append(TableLoad(label, written, time.monotonic() - started))
        started = time.monotonic()
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), targets):
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            # Fresh statistics, so the first export after a big load gets sensible query plans.
            for model in targets:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    loads.append(TableLoad("indexes, keys, stats", None, time.monotonic() - started))
    return loads


@contextmanager
def _postgresql_bulk_load(tables: list[str]) -> Iterator[None]:
    """On PostgreSQL, load without the tables' foreign keys and plain indexes, then put them back.

    PostgreSQL's own advice for populating a database: one validating join per foreign key and
    one sorted build per index are far faster than a check and an index insert per row (the
    deferred checks alone took a minute at the full scale). Inside the caller's transaction, so
    a failure puts everything back as it was; unique and primary keys stay in place.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # ALTER TABLE refuses tables with deferred checks still pending from earlier in the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY oid",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid) ORDER BY indexrelid",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _load(
    model: type[models.Model],
    columns: tuple[str, ...],
    rows: Iterator[tuple],
    *,
    batch_size: int,
    report: Callable[[int], None],
) -> int:
    if connection.vendor == "postgresql":
        return _copy(model, columns, rows, batch_size=batch_size, report=report)
    done = 0
    while batch := list(itertools.islice(rows, batch_size)):
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in batch])
        done += len(batch)
        report(done)
    return done


def _copy(
    model: type[models.Model],
    columns: tuple[str, ...],
    rows: Iterator[tuple],
    *,
    batch_size: int,
    report: Callable[[int], None],
) -> int:
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[name] for name in columns]
    json_positions = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    done = 0
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            if json_positions:
                row = list(row)
                for i in json_positions:
                    row[i] = json.dumps(row[i])
            copy.write_row(row)
            done += 1
            if done % batch_size == 0:
                report(done)
    report(done)
    return done
