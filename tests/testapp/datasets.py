"""The test tracker's dataset and opt-out scope: everything it takes to export an app's own data."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from datapipeline.kinds import BOOLEAN, INTEGER, STRING, TEXT, TIMESTAMP, URL, url_part
from datapipeline.registry import INSTANCE_URL, Column, Dataset, OptOutScope, register_dataset, register_scope

from .models import Project, Ticket


def project_ids(keys: list[str]) -> list[int]:
    return list(Project.objects.filter(key__in=keys).values_list("id", flat=True))


def project_entities(keys: list[str]) -> list[dict[str, Any]]:
    found = {key: (pk, name) for key, pk, name in Project.objects.filter(key__in=keys).values_list("key", "pk", "name")}
    return [
        {
            "type": "PROJECT",
            "identifier": None if key not in found else str(found[key][0]),
            "key": key,
            "displayName": found.get(key, (None, None))[1],
            "uri": None if key not in found else f"{settings.INSTANCE_URL}/projects/{url_part(key)}",
        }
        for key in keys
    ]


def tickets() -> QuerySet[Ticket]:
    return Ticket.objects.all()


register_scope(OptOutScope("PROJECT", "A project: its tickets.", project_ids, project_entities))

register_dataset(
    Dataset(
        "tickets",
        "Tickets of every project.",
        "Tickets updated at or after fromDate, outside opted-out projects.",
        "ticket_id",
        (
            Column("ticket_id", INTEGER, "The ticket's id.", source="id"),
            INSTANCE_URL,
            Column("project_key", STRING, "Key of the project it belongs to.", source="project__key"),
            Column("ticket_url", URL, "Link to the ticket.", url="/browse/{project__key}-{id}"),
            Column("title", TEXT, "The title.", source="title"),
            Column("resolved", BOOLEAN, "Whether it is resolved; empty if not triaged.", source="resolved"),
            Column("updated_date", TIMESTAMP, "When it last changed.", source="updated"),
            Column(
                "description",
                TEXT,
                "The body; version 1 keeps its first 20 characters.",
                source="body",
                max_length={1: 20},
            ),
        ),
        tickets,
        date_field="updated",
        optout_scope="PROJECT",
        optout_field="project_id",
    )
)
