"""Query helpers any app's code may use."""

from __future__ import annotations

from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def filter_in(queryset: QuerySet[M], field: str, values: list[str]) -> QuerySet[M]:
    """``queryset.filter(<field>__in=values)``; on PostgreSQL as one array parameter (``= ANY(%s)``), which
    costs one bind instead of one per value: 10,000 keys take milliseconds, not a quarter of a second."""
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{field}__in": values})
    meta = queryset.model._meta
    column = f'"{meta.db_table}"."{meta.get_field(field).column}"'  # names from the model, never from input
    return queryset.extra(where=[f"{column} = ANY(%s)"], params=[values])  # noqa: S610
