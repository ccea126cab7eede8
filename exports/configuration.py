"""The pipeline's configuration (services): the export path and the configuration properties, each change
recorded in the audit log. Values are checked by the input layer (``exports.inputs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction

from datapipeline.models import ConfigProperty, ExportPath
from datapipeline.paths import default_root, export_root
from datapipeline.properties import PROPERTIES, UnknownProperty, property_source, property_values

from .audit import audit_record
from .inputs import parse_export_path, property_problem


@transaction.atomic
def export_path_set(*, path: object, user: Any = None, via: str = "") -> Path:
    """Validate and store a custom root export path; recorded in the audit log."""
    validated = parse_export_path(path)
    previous, _custom = export_root()
    ExportPath.objects.all().delete()
    ExportPath.objects.create(path=str(validated))
    audit_record(action="export_path.set", user=user, via=via, previous=str(previous), path=str(validated))
    return validated


@transaction.atomic
def export_path_reset(*, user: Any = None, via: str = "") -> Path:
    """Drop the custom root export path (back to the default); recorded in the audit log."""
    previous, _custom = export_root()
    ExportPath.objects.all().delete()
    audit_record(action="export_path.reset", user=user, via=via, previous=str(previous), path=str(default_root()))
    return default_root()


def property_set(*, name: str, value: str, user: Any = None, via: str = "") -> None:
    """Store a property's value (admin, commands); an unknown name or a value that does not parse raises
    ValueError with the input layer's message."""
    if name not in PROPERTIES:
        raise UnknownProperty(name)
    problem = property_problem(name, value)
    if problem:
        raise ValueError(problem)
    previous, source = property_source(name)
    ConfigProperty.objects.update_or_create(key=name, defaults={"value": value})
    audit_record(action="property.set", user=user, via=via, name=name, value=value, previous=previous, source=source)


def property_reset(*, name: str, user: Any = None, via: str = "") -> dict[str, Any]:
    """Drop the admin's value of a property: env, settings or the default apply again; returns it now."""
    deleted, _ = ConfigProperty.objects.filter(key=name).delete()
    audit_record(action="property.reset", user=user, via=via, name=name, existed=bool(deleted))
    return next(item for item in property_values() if item["name"] == name)


def properties_save(
    *, values: dict[str, str], user: Any = None, via: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """Store the values that differ from the current ones, all or none.

    Returns (changed, problems): nothing is saved when any changed value is refused; an unchanged
    value keeps its source (env, settings or default)."""
    current = {item["name"]: item["value"] for item in property_values()}
    changed = {name: value for name, value in values.items() if value != current.get(name)}
    problems = {name: problem for name, value in changed.items() if (problem := property_problem(name, value))}
    if problems:
        return changed, problems
    with transaction.atomic():
        for name, value in changed.items():
            property_set(name=name, value=value, user=user, via=via)
    return changed, {}
