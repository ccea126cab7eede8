"""The Opt-out list screen: the spaces (or other registered scopes' keys) excluded from every export."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from datapipeline.errors import PipelineError
from datapipeline.properties import get_property
from optout.services import optout_add, optout_by_scope, optout_remove, supported_types

from ..admin_forms import OptOutAddForm
from .common import actor, back_to, error_message, render, submitted

SECTION = "datapipeline_optout"


def optout_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    types = supported_types()
    form = OptOutAddForm(scope_types=types)
    status = 200
    if request.method == "POST" and "remove" in request.POST:
        keys = request.POST.getlist("remove_keys")
        entity_type = request.POST.get("entity_type", types[0])  # each scope's table posts its own type
        if not keys:
            noun = _noun(entity_type)
            messages.warning(request, f"Select the {noun} to remove from the opt-out list.")  # noqa: S608 (words, not SQL)
        else:
            try:
                optout_remove(keys=keys, entity_type=entity_type, **actor(request))
            except PipelineError as exc:
                error_message(request, exc)
            else:
                messages.success(request, f"Removed from the opt-out list: {', '.join(keys)}.")
                return back_to(SECTION)
    elif request.method == "POST":
        form = OptOutAddForm(request.POST, scope_types=types)
        status = 400
        change = submitted(request, form, lambda data: optout_add(**data, **actor(request)), "keys")
        if change is not None:
            noun = _noun(change.type)
            if change.added:
                messages.success(request, f"Added to the opt-out list: {', '.join(sorted(change.added))}.")
            else:
                messages.info(request, f"Nothing was added: those {noun} were already on the list.")
            if change.not_found:
                messages.warning(request, f"Skipped, no such {noun[:-1]}: {', '.join(change.not_found)}.")
            return back_to(SECTION)
    scopes = optout_by_scope()
    return render(
        request,
        model_admin,
        "optout.html",
        "Opt-out list",
        SECTION,
        status=status,
        form=form,
        scopes=scopes,
        listed=sum(len(s["entries"]) for s in scopes),
        one_scope=len(scopes) == 1,
        limit=get_property("plugin.data.pipeline.optout.count.limit"),
    )


def _noun(entity_type: str) -> str:
    """The things of a scope, in the plural ("spaces"); "keys" for a type that is not registered."""
    return f"{entity_type.lower()}s" if entity_type in supported_types() else "keys"
