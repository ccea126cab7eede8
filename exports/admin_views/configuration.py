"""The Export path and Configuration properties screens."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse

from datapipeline.control import free_space_label
from datapipeline.paths import default_root, export_root
from datapipeline.properties import PROPERTIES, property_values

from ..admin_forms import ExportPathForm, PropertiesForm
from ..configuration import export_path_reset, export_path_set, properties_save, property_reset
from .common import actor, back_to, render, submitted

PATH_SECTION = "datapipeline_export_path"
PROPERTIES_SECTION = "datapipeline_properties"


def export_path_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = ExportPathForm()
    status = 200
    if request.method == "POST" and "reset" in request.POST:
        root = export_path_reset(**actor(request))
        messages.success(request, f"The export path was reset to the default, {root}.")
        return back_to(PATH_SECTION)
    if request.method == "POST":
        form = ExportPathForm(request.POST)
        status = 400
        root = submitted(request, form, lambda data: export_path_set(path=data["path"], **actor(request)), "path")
        if root is not None:
            messages.success(request, f"Exports now go to {root}.")
            return back_to(PATH_SECTION)
    root, custom = export_root()
    if not form.is_bound:
        form = ExportPathForm(initial={"path": str(root) if custom else ""})
    return render(
        request,
        model_admin,
        "export_path.html",
        "Export path",
        PATH_SECTION,
        status=status,
        form=form,
        root=str(root),
        custom=custom,
        default=str(default_root()),
        free=free_space_label(root),
    )


def properties_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    current = {item["name"]: item for item in property_values()}
    values = {name: item["value"] for name, item in current.items()}
    status = 200
    form = PropertiesForm(initial_values=values)
    if request.method == "POST" and request.POST.get("reset") in PROPERTIES:
        now = property_reset(name=request.POST["reset"], **actor(request))
        messages.success(request, f"{now['name']} was reset; it is now {now['value']!r} (from {now['source']}).")
        return back_to(PROPERTIES_SECTION)
    if request.method == "POST":
        form = PropertiesForm(request.POST, initial_values=values)
        form.is_valid()
        given = {name: form.cleaned_data.get(name, "") for name in PROPERTIES}
        changed, problems = properties_save(values=given, **actor(request))
        for name, problem in problems.items():
            form.add_error(name, problem)
        if problems:
            messages.error(request, "Nothing was saved: correct the values marked below.")
            status = 400
        elif not changed:
            messages.info(request, "No property was changed.")
            return back_to(PROPERTIES_SECTION)
        else:
            messages.success(request, f"Saved: {', '.join(f'{n} = {v!r}' for n, v in changed.items())}.")
            return back_to(PROPERTIES_SECTION)
    rows = [
        {
            "name": name,
            "field": form[name],
            "description": prop.description,
            "default": prop.default,
            "source": current[name]["source"],
            "problem": current[name]["problem"],
            "env_name": prop.env_name,
        }
        for name, prop in PROPERTIES.items()
    ]
    return render(
        request,
        model_admin,
        "properties.html",
        "Configuration properties",
        PROPERTIES_SECTION,
        status=status,
        form=form,
        rows=rows,
    )
