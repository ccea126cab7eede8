"""The Opt-out list screen: the spaces excluded from every export; add and remove them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from datapipeline.errors import PipelineError
from datapipeline.properties import get_property
from optout.services import optout_add, optout_remove, optout_spaces

from ..admin_forms import OptOutAddForm
from .common import actor, back_to, error_message, render, submitted

SECTION = "datapipeline_optout"


def optout_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = OptOutAddForm()
    status = 200
    if request.method == "POST" and "remove" in request.POST:
        keys = request.POST.getlist("remove_keys")
        if not keys:
            messages.warning(request, "Select the spaces to remove from the opt-out list.")
        else:
            try:
                optout_remove(keys=keys, **actor(request))
            except PipelineError as exc:
                error_message(request, exc)
            else:
                messages.success(request, f"Removed from the opt-out list: {', '.join(keys)}.")
                return back_to(SECTION)
    elif request.method == "POST":
        form = OptOutAddForm(request.POST)
        status = 400
        change = submitted(request, form, lambda data: optout_add(**data, **actor(request)), "keys")
        if change is not None:
            if change.added:
                messages.success(request, f"Added to the opt-out list: {', '.join(sorted(change.added))}.")
            else:
                messages.info(request, "Nothing was added: those spaces were already on the list.")
            if change.not_found:
                messages.warning(request, f"Skipped, no such space: {', '.join(change.not_found)}.")
            return back_to(SECTION)
    return render(
        request,
        model_admin,
        "optout.html",
        "Opt-out list",
        SECTION,
        status=status,
        form=form,
        spaces=optout_spaces(),
        limit=get_property("plugin.data.pipeline.optout.count.limit"),
    )
