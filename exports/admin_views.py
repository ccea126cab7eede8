"""Views of the Data pipeline screen: thin shells over the services, like the API and the commands.

Each view takes the request and the ExportJobAdmin (for the admin site's context); refused
requests (``PipelineError``) become admin error messages with the services' own wording.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from datapipeline.errors import KEY_FROM_DATE_INVALID, KEY_SCHEMA_MISSING, ExportAlreadyRunning, PipelineError
from datapipeline.models import PersonalAccessToken
from datapipeline.paths import default_root, export_path_reset, export_path_set, export_root
from datapipeline.properties import PROPERTIES, property_reset, property_set, property_values
from datapipeline.runner import MANIFEST_NAME, job_dir
from datapipeline.schema import ENTITIES
from datapipeline.tokens import token_create, token_revoke
from optout.services import optout_add, optout_list, optout_remove

from .admin_forms import (
    ExportPathForm,
    OptOutAddForm,
    PropertiesForm,
    ScheduleForm,
    StartExportForm,
    TokenCreateForm,
)
from .models import ExportJob, JobStatus
from .selectors import iso, job_current_or_last, job_list, job_to_dict
from .services import export_cancel, export_start

PAGE_SIZE = 20

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


def render(request: HttpRequest, model_admin: admin.ModelAdmin, template: str, title: str, section: str, **context):
    context.update(
        model_admin.admin_site.each_context(request),
        title=title,
        opts=model_admin.model._meta,
        app_label=model_admin.model._meta.app_label,
        pipeline_home=reverse("admin:exports_exportjob_changelist"),
        sections=[(section_url(name), label, name == section) for name, label in SECTIONS],
    )
    return TemplateResponse(request, f"admin/datapipeline/{template}", context)


def error_message(request: HttpRequest, exc: PipelineError) -> None:
    """The service's message, and each listed error that says more than the message."""
    messages.error(request, exc.message)
    for item in exc.errors:
        if item.get("message") and item["message"] != exc.message:
            messages.error(request, item["message"])


# --- Exports ---------------------------------------------------------------------------------


def duration(job: ExportJob, now=None) -> str:
    end = job.completed_time or (now or timezone.now())
    seconds = max(0, int((end - job.start_time).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_row(job: ExportJob, now) -> dict[str, Any]:
    statistics = job.statistics or {}
    return {
        "job": job,
        "duration": duration(job, now),
        "rows": statistics.get("writtenRows", 0),
        "entities": statistics.get("exportedEntities", 0),
        "details_url": reverse("admin:datapipeline_details", args=[job.pk]),
        "cancel_url": reverse("admin:datapipeline_cancel", args=[job.pk]) if job.is_active else None,
    }


def progress_rows(job: ExportJob | None) -> list[dict[str, Any]]:
    """Rows per entity, in export order, for the progress panel."""
    entities = ((job.statistics or {}).get("entities") or {}) if job else {}
    rows = []
    for entity in ENTITIES:
        stats = entities.get(entity.name)
        if stats is None:
            state = "waiting"
        elif stats.get("done"):
            state = "done"
        else:
            state = "running"
        rows.append(
            {
                "entity": entity.name,
                "rows": (stats or {}).get("rows", 0),
                "total": (stats or {}).get("total"),
                "state": state,
            }
        )
    return rows


def pipeline_index(request: HttpRequest, model_admin: admin.ModelAdmin, form: StartExportForm | None = None):
    """The Data pipeline screen: start an export, live progress, the Export details table."""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    jobs, last_page = job_list(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    now = timezone.now()
    current = job_current_or_last()
    return render(
        request,
        model_admin,
        "index.html",
        "Data pipeline",
        "datapipeline_index",
        form=form or StartExportForm(),
        rows=[job_row(job, now) for job in jobs],
        page=page,
        previous_page=page - 1 if page > 1 else None,
        next_page=None if last_page else page + 1,
        current=current,
        current_row=job_row(current, now) if current else None,
        progress=progress_rows(current),
        progress_url=reverse("admin:datapipeline_progress"),
        start_url=reverse("admin:datapipeline_start"),
    )


def export_start_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:exports_exportjob_changelist"))
    form = StartExportForm(request.POST)
    form.is_valid()  # every field is optional text; the service validates the values
    data = form.cleaned_data
    try:
        job = export_start(
            from_date=data.get("from_date") or None,
            schema_version=data.get("schema_version") or None,
            force_export=bool(data.get("force_export")),
            trigger="admin",
            user=request.user,
        )
    except ExportAlreadyRunning as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:exports_exportjob_changelist"))
    except PipelineError as exc:
        field = {KEY_FROM_DATE_INVALID: "from_date", KEY_SCHEMA_MISSING: "schema_version"}.get(exc.key)
        if field:
            form.add_error(field, exc.message)
        error_message(request, exc)
        response = pipeline_index(request, model_admin, form=form)
        response.status_code = 400
        return response
    if job.status == JobStatus.FAILED:
        messages.error(request, f"Export {job.pk} failed its pre-validation and did not run.")
        for item in job.errors:
            messages.error(request, item["message"])
    else:
        messages.success(request, f"Export {job.pk} started.")
    for item in job.warnings:
        messages.warning(request, item["message"])
    return HttpResponseRedirect(reverse("admin:exports_exportjob_changelist"))


def progress_json(request: HttpRequest, model_admin: admin.ModelAdmin) -> JsonResponse:
    """The running job, else the last one, for the live progress panel (polled by progress.js)."""
    job = job_current_or_last()
    body: dict[str, Any] = {"active": bool(job and job.is_active), "job": job_to_dict(job) if job else None}
    if job:
        body["progress"] = progress_rows(job)
        body["duration"] = duration(job)
        body["detailsUrl"] = reverse("admin:datapipeline_details", args=[job.pk])
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def job_files(job: ExportJob) -> tuple[list[dict[str, Any]], bool]:
    """The files a job wrote: from its manifest, else (still running) what is in its directory."""
    directory = job_dir(job)
    manifest = directory / MANIFEST_NAME
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            return [
                {"file": f.get("file"), "entity": f.get("entity"), "rows": f.get("rows"), "bytes": f.get("bytes"),
                 "sha256": f.get("sha256")}
                for f in data.get("files", [])
            ], True  # fmt: skip
        except (OSError, ValueError):
            pass
    files = []
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            if entry.is_file() and entry.suffix == ".csv":
                files.append({"file": entry.name, "entity": entry.name.split("_job")[0], "rows": None,
                              "bytes": entry.stat().st_size, "sha256": None})  # fmt: skip
    return files, False


def job_details(request: HttpRequest, model_admin: admin.ModelAdmin, job_id: int) -> HttpResponse:
    job = get_object_or_404(ExportJob, pk=job_id)
    files, from_manifest = job_files(job)
    return render(
        request,
        model_admin,
        "details.html",
        f"Export {job.pk}",
        "datapipeline_index",
        job=job,
        job_json=format_html("<pre class='dp-json'>{}</pre>", json.dumps(job_to_dict(job), indent=2)),
        files=files,
        from_manifest=from_manifest,
        directory=str(job_dir(job)),
        cancel_url=reverse("admin:datapipeline_cancel", args=[job.pk]) if job.is_active else None,
    )


def worker_is_dead(job: ExportJob) -> bool:
    stale_before = timezone.now() - timedelta(seconds=settings.DATAPIPELINE_HEARTBEAT_TIMEOUT)
    return job.is_active and job.heartbeat is not None and job.heartbeat < stale_before


def job_cancel(request: HttpRequest, model_admin: admin.ModelAdmin, job_id: int) -> HttpResponse:
    """GET: the confirmation page. POST: cancel (or, when its worker died, mark cancelled)."""
    job = get_object_or_404(ExportJob, pk=job_id)
    home = reverse("admin:exports_exportjob_changelist")
    if request.method == "POST":
        try:
            job = export_cancel(job_id=job.pk, user=request.user, via="admin")
        except PipelineError as exc:
            error_message(request, exc)
            return HttpResponseRedirect(home)
        if job.status == JobStatus.CANCELLED:
            messages.success(request, f"Export {job.pk} was marked cancelled: its worker had stopped responding.")
        else:
            messages.success(
                request, f"Cancellation of export {job.pk} requested; it stops within seconds and ends CANCELLED."
            )
        return HttpResponseRedirect(home)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    if not job.is_active:
        messages.warning(request, f"Export {job.pk} has already finished ({job.status}); there is nothing to cancel.")
        return HttpResponseRedirect(home)
    return render(
        request,
        model_admin,
        "cancel_confirm.html",
        f"Cancel export {job.pk}",
        "datapipeline_index",
        job=job,
        worker_dead=worker_is_dead(job),
    )


# --- Opt-out list ----------------------------------------------------------------------------


def optout_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    from datapipeline.properties import get_property
    from wiki.models import Space

    form = OptOutAddForm()
    status = 200
    if request.method == "POST":
        if "remove" in request.POST:
            keys = request.POST.getlist("remove_keys")
            if not keys:
                messages.warning(request, "Select the spaces to remove from the opt-out list.")
            else:
                try:
                    optout_remove(keys=keys, user=request.user, via="admin")
                except PipelineError as exc:
                    error_message(request, exc)
                else:
                    messages.success(request, f"Removed from the opt-out list: {', '.join(keys)}.")
                    return HttpResponseRedirect(reverse("admin:datapipeline_optout"))
        else:
            form = OptOutAddForm(request.POST)
            if form.is_valid():
                keys = form.cleaned_keys()
                before = set(optout_list())
                try:
                    after = optout_add(
                        keys=keys,
                        continue_if_not_found=form.cleaned_data["continue_if_not_found"],
                        user=request.user,
                        via="admin",
                    )
                except PipelineError as exc:
                    error_message(request, exc)
                    form.add_error("keys", exc.message)
                    status = 400
                else:
                    added = [k for k in after if k not in before]
                    skipped = [k for k in keys if k not in after]
                    if added:
                        messages.success(request, f"Added to the opt-out list: {', '.join(added)}.")
                    else:
                        messages.info(request, "Nothing was added: those spaces were already on the list.")
                    if skipped:
                        messages.warning(request, f"Skipped, no such space: {', '.join(skipped)}.")
                    return HttpResponseRedirect(reverse("admin:datapipeline_optout"))
            else:
                status = 400
    keys = optout_list()
    names = dict(Space.objects.filter(key__in=keys).values_list("key", "name"))
    response = render(
        request,
        model_admin,
        "optout.html",
        "Opt-out list",
        "datapipeline_optout",
        form=form,
        spaces=[{"key": k, "name": names.get(k)} for k in keys],
        limit=get_property("plugin.data.pipeline.optout.count.limit"),
    )
    response.status_code = status
    return response


# --- Export path -----------------------------------------------------------------------------


def export_path_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = ExportPathForm()
    status = 200
    if request.method == "POST":
        if "reset" in request.POST:
            root = export_path_reset(user=request.user, via="admin")
            messages.success(request, f"The export path was reset to the default, {root}.")
            return HttpResponseRedirect(reverse("admin:datapipeline_export_path"))
        form = ExportPathForm(request.POST)
        if form.is_valid():
            try:
                root = export_path_set(path=form.cleaned_data["path"], user=request.user, via="admin")
            except PipelineError as exc:
                error_message(request, exc)
                form.add_error("path", exc.message)
                status = 400
            else:
                messages.success(request, f"Exports now go to {root}.")
                return HttpResponseRedirect(reverse("admin:datapipeline_export_path"))
        else:
            status = 400
    root, custom = export_root()
    if not form.is_bound:
        form = ExportPathForm(initial={"path": str(root) if custom else ""})
    response = render(
        request,
        model_admin,
        "export_path.html",
        "Export path",
        "datapipeline_export_path",
        form=form,
        root=str(root),
        custom=custom,
        default=str(default_root()),
        free=disk_usage_label(root),
    )
    response.status_code = status
    return response


# --- Configuration properties ----------------------------------------------------------------


def properties_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    current = {item["name"]: item for item in property_values()}
    values = {name: item["value"] for name, item in current.items()}
    status = 200
    if request.method == "POST":
        if request.POST.get("reset") in PROPERTIES:
            name = request.POST["reset"]
            property_reset(name=name, user=request.user, via="admin")
            now = next(item for item in property_values() if item["name"] == name)
            messages.success(request, f"{name} was reset; it is now {now['value']!r} (from {now['source']}).")
            return HttpResponseRedirect(reverse("admin:datapipeline_properties"))
        form = PropertiesForm(request.POST, initial_values=values)
        form.is_valid()
        changed = {}
        for name, prop in PROPERTIES.items():
            value = form.cleaned_data.get(name, "")
            if value == values[name]:
                continue  # unchanged: keep its source (env, settings or default)
            try:
                prop.parse(value)
            except (ValueError, TypeError) as exc:
                form.add_error(name, f"{value!r} is not a valid value for {name}: {exc}")
            else:
                changed[name] = value
        if form.errors:
            messages.error(request, "Nothing was saved: correct the values marked below.")
            status = 400
        elif not changed:
            messages.info(request, "No property was changed.")
            return HttpResponseRedirect(reverse("admin:datapipeline_properties"))
        else:
            with transaction.atomic():  # all the changed values, or none
                for name, value in changed.items():
                    property_set(name=name, value=value, user=request.user, via="admin")
            messages.success(request, f"Saved: {', '.join(f'{n} = {v!r}' for n, v in changed.items())}.")
            return HttpResponseRedirect(reverse("admin:datapipeline_properties"))
    else:
        form = PropertiesForm(initial_values=values)
    rows = [
        {
            "name": name,
            "field": form[name],
            "description": prop.description,
            "default": prop.default,
            "source": current[name]["source"],
            "env_name": prop.env_name,
        }
        for name, prop in PROPERTIES.items()
    ]
    response = render(
        request, model_admin, "properties.html", "Configuration properties", "datapipeline_properties", form=form,
        rows=rows,
    )  # fmt: skip
    response.status_code = status
    return response


# --- Personal access tokens ------------------------------------------------------------------


def tokens_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = TokenCreateForm()
    status = 200
    created = None
    if request.method == "POST":
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expiry_days"]
            expires_at = timezone.now() + timedelta(days=days) if days else None
            try:
                token, raw = token_create(user=request.user, name=form.cleaned_data["name"], expires_at=expires_at)
            except ValueError as exc:
                form.add_error("name", str(exc))
                status = 400
            else:
                # The raw token is in this response only: not in the session, not in a message.
                created = {"token": token, "raw": raw}
                form = TokenCreateForm()
        else:
            status = 400
    tokens = PersonalAccessToken.objects.select_related("user").order_by("-created")[:100]
    token_admin_url = None
    if model_admin.admin_site.is_registered(PersonalAccessToken):
        token_admin_url = reverse("admin:datapipeline_personalaccesstoken_changelist")
    now = timezone.now()
    response = render(
        request,
        model_admin,
        "tokens.html",
        "Personal access tokens",
        "datapipeline_tokens",
        form=form,
        created=created,
        tokens=[
            {
                "token": t,
                "state": "revoked" if t.revoked_at else ("expired" if t.expires_at and t.expires_at <= now else "live"),
                "revoke_url": reverse("admin:datapipeline_token_revoke", args=[t.pk]) if not t.revoked_at else None,
            }
            for t in tokens
        ],
        token_admin_url=token_admin_url,
    )
    response.status_code = status
    if created:
        response["Cache-Control"] = "no-store"
    return response


def token_revoke_view(request: HttpRequest, model_admin: admin.ModelAdmin, token_id: int) -> HttpResponse:
    token = get_object_or_404(PersonalAccessToken, pk=token_id)
    if request.method == "POST":
        token = token_revoke(token_id=token.pk, user=request.user)
        messages.success(request, f"Token “{token}” was revoked; requests using it now get 401.")
        return HttpResponseRedirect(reverse("admin:datapipeline_tokens"))
    return render(
        request, model_admin, "token_revoke_confirm.html", f"Revoke token {token}", "datapipeline_tokens", token=token
    )


# --- Schedule --------------------------------------------------------------------------------


SCHEDULE_FIELDS = {
    "schedule.days.invalid": "days",
    "schedule.repeat.interval.invalid": "repeat_interval_weeks",
    "schedule.time.invalid": "time",
    "schedule.rolling.window.invalid": "window",
    "export.from.date.invalid": "from_date",
    "export.schema.version.missing": "schema_version",
    "schedule.enabled.invalid": "enabled",
}


def schedule_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    from . import schedules

    status = 200
    if request.method == "POST":
        if "delete" in request.POST:
            schedules.schedule_delete(user=request.user, via="admin")
            messages.success(request, "The export schedule was deleted; exports run only when started.")
            return HttpResponseRedirect(reverse("admin:datapipeline_schedule"))
        form = ScheduleForm(request.POST)
        if form.is_valid():
            try:
                saved = schedules.schedule_set(**form.service_arguments(), user=request.user, via="admin")
            except PipelineError as exc:
                error_message(request, exc)
                for item in exc.errors:
                    field = SCHEDULE_FIELDS.get(item.get("key"))
                    if field:
                        form.add_error(field, item["message"])
                status = 400
            else:
                next_run = schedules.schedule_next_run(saved)
                when = f" Next run: {timezone.localtime(next_run):%Y-%m-%d %H:%M %Z}." if next_run else ""
                messages.success(request, f"The export schedule was saved.{when}")
                return HttpResponseRedirect(reverse("admin:datapipeline_schedule"))
        else:
            status = 400
    else:
        form = ScheduleForm(initial=schedule_initial(schedules.schedule_get()))
    schedule = schedules.schedule_get()
    response = render(
        request,
        model_admin,
        "schedule.html",
        "Schedule",
        "datapipeline_schedule",
        form=form,
        schedule=schedule,
        schedule_json=json.dumps(schedules.schedule_to_dict(schedule), indent=2) if schedule else None,
        next_run=schedules.schedule_next_run(schedule) if schedule and schedule.enabled else None,
        time_zone=timezone.get_current_timezone_name(),
    )
    response.status_code = status
    return response


def schedule_initial(schedule) -> dict[str, Any]:
    if schedule is None:
        return {}
    if schedule.from_date:
        window = "absolute"
    elif schedule.rolling_window_days:
        window = "days"
    else:
        window = "months"
    return {
        "enabled": schedule.enabled,
        "days": list(schedule.days),
        "repeat_interval_weeks": str(schedule.repeat_interval_weeks),
        "time": schedule.time.strftime("%H:%M:%S"),
        "window": window,
        "rolling_window_months": str(schedule.rolling_window_months or 12),
        "rolling_window_days": str(schedule.rolling_window_days or 365),
        "from_date": iso(schedule.from_date) or "",
        "schema_version": str(schedule.schema_version or ""),
    }


def disk_usage_label(path: Path) -> str:
    """Free space on the filesystem holding ``path`` (its nearest existing ancestor)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        stat = os.statvfs(probe)
    except OSError:
        return "unknown"
    return f"{stat.f_bavail * stat.f_frsize / 1024**3:.1f} GB free"
