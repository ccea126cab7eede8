"""What every screen of the Data pipeline admin shares: the section tabs, rendering, messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from datapipeline.errors import PipelineError

from ..models import Trigger

SECTIONS = [
    ("datapipeline_index", "Exports"),
    ("datapipeline_schedule", "Schedule"),
    ("datapipeline_optout", "Opt-out list"),
    ("datapipeline_export_path", "Export path"),
    ("datapipeline_properties", "Configuration properties"),
    ("datapipeline_tokens", "Access tokens"),
]


def section_url(name: str) -> str:
    if name == "datapipeline_index":
        return reverse("admin:exports_exportjob_changelist")
    return reverse(f"admin:{name}")


def back_to(name: str) -> HttpResponseRedirect:
    """Redirect to a section of the screen (after a change: the message says what happened)."""
    return HttpResponseRedirect(section_url(name))


def render(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    template: str,
    title: str,
    section: str,
    *,
    status: int = 200,
    **context: Any,
) -> TemplateResponse:
    context.update(
        model_admin.admin_site.each_context(request),
        title=title,
        opts=model_admin.model._meta,
        app_label=model_admin.model._meta.app_label,
        pipeline_home=reverse("admin:exports_exportjob_changelist"),
        sections=[(section_url(name), label, name == section) for name, label in SECTIONS],
    )
    return TemplateResponse(request, f"admin/datapipeline/{template}", context, status=status)


Fields = dict[str, str] | str  # a form field per error key, or the one field every refusal goes to


def actor(request: HttpRequest) -> dict[str, Any]:
    """Who changes something from the admin, as every service records it in the audit log."""
    return {"user": request.user, "via": Trigger.ADMIN}


def error_message(request: HttpRequest, exc: PipelineError) -> None:
    """The service's message, and each listed error that says more than the message."""
    messages.error(request, exc.message)
    for item in exc.errors:
        if item.get("message") and item["message"] != exc.message:
            messages.error(request, item["message"])


def refused(request: HttpRequest, exc: PipelineError, form: Any, fields: dict[str, str]) -> None:
    """Show a refusal: the messages, and each error whose key names a form field on that field."""
    error_message(request, exc)
    for item in exc.errors:
        field = fields.get(item.get("key", ""))
        if field:
            form.add_error(field, item["message"])


def submitted(
    request: HttpRequest, form: Any, action: Callable[[dict[str, Any]], Any], fields: dict[str, str] | str
) -> Any:
    """``action(form.cleaned_data)`` (one service call) when the form is valid, else None; a refusal
    (``PipelineError``) becomes messages and field errors (``fields``: by error key, or one field)."""
    if not form.is_valid():
        return None
    try:
        return action(form.cleaned_data)
    except PipelineError as exc:
        if isinstance(fields, str):
            error_message(request, exc)
            form.add_error(fields, exc.message)
        else:
            refused(request, exc, form, fields)
    return None
