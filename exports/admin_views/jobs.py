"""The Exports screen: start an export, live progress, the job table, a job's details, cancel."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from datapipeline.errors import KEY_FROM_DATE_INVALID, KEY_SCHEMA_MISSING, ExportAlreadyRunning, PipelineError
from datapipeline.jobfiles import job_dir, job_files
from datapipeline.registry import datasets

from ..admin_forms import StartExportForm
from ..inputs import KEY_FORMAT_INVALID, KEY_MODE_INVALID
from ..jobs import export_cancel, worker_is_dead
from ..models import ExportJob, JobStatus, Trigger
from ..selectors import job_current_or_last, job_list, job_to_dict
from ..services import export_start
from .common import back_to, error_message, refused, render, section_url

PAGE_SIZE = 20
HOME = "datapipeline_index"
START_FIELDS = {
    KEY_FROM_DATE_INVALID: "from_date",
    KEY_SCHEMA_MISSING: "schema_version",
    KEY_MODE_INVALID: "mode",
    KEY_FORMAT_INVALID: "file_format",
}


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
    for entity in datasets():
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


def pipeline_index(
    request: HttpRequest, model_admin: admin.ModelAdmin, form: StartExportForm | None = None, status: int = 200
):
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
        HOME,
        status=status,
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
        return back_to(HOME)
    form = StartExportForm(request.POST)
    form.is_valid()  # every field is optional text; the service validates the values
    data = form.cleaned_data
    try:
        job = export_start(
            from_date=data.get("from_date") or None,
            schema_version=data.get("schema_version") or None,
            file_format=data.get("file_format") or None,
            force_export=bool(data.get("force_export")),
            mode=data.get("mode") or None,
            trigger=Trigger.ADMIN,
            user=request.user,
        )
    except ExportAlreadyRunning as exc:
        messages.error(request, exc.message)
        return back_to(HOME)
    except PipelineError as exc:
        refused(request, exc, form, START_FIELDS)
        return pipeline_index(request, model_admin, form=form, status=400)
    if job.status == JobStatus.FAILED:
        messages.error(request, f"Export {job.pk} failed its pre-validation and did not run.")
        for item in job.errors:
            messages.error(request, item["message"])
    else:
        messages.success(request, f"Export {job.pk} started.")
    for item in job.warnings:
        messages.warning(request, item["message"])
    return back_to(HOME)


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


def job_details(request: HttpRequest, model_admin: admin.ModelAdmin, job_id: int) -> HttpResponse:
    job = get_object_or_404(ExportJob, pk=job_id)
    files, from_manifest = job_files(job)
    return render(
        request,
        model_admin,
        "details.html",
        f"Export {job.pk}",
        HOME,
        job=job,
        job_json=format_html("<pre class='dp-json'>{}</pre>", json.dumps(job_to_dict(job), indent=2)),
        files=files,
        from_manifest=from_manifest,
        directory=str(job_dir(job)),
        cancel_url=reverse("admin:datapipeline_cancel", args=[job.pk]) if job.is_active else None,
    )


def job_cancel(request: HttpRequest, model_admin: admin.ModelAdmin, job_id: int) -> HttpResponse:
    """GET: the confirmation page. POST: cancel (or, when its worker died, mark cancelled)."""
    job = get_object_or_404(ExportJob, pk=job_id)
    if request.method == "POST":
        try:
            job = export_cancel(job_id=job.pk, user=request.user, via=Trigger.ADMIN)
        except PipelineError as exc:
            error_message(request, exc)
            return back_to(HOME)
        if job.status == JobStatus.CANCELLED:
            messages.success(request, f"Export {job.pk} was marked cancelled: its worker had stopped responding.")
        else:
            messages.success(
                request, f"Cancellation of export {job.pk} requested; it stops within seconds and ends CANCELLED."
            )
        return back_to(HOME)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    if not job.is_active:
        messages.warning(request, f"Export {job.pk} has already finished ({job.status}); there is nothing to cancel.")
        return back_to(HOME)
    dead = worker_is_dead(job)
    return render(
        request,
        model_admin,
        "cancel_confirm.html",
        f"Cancel export {job.pk}",
        HOME,
        job=job,
        worker_dead=dead,
        confirm_label="Yes, mark it cancelled" if dead else f"Yes, cancel export {job.pk}",
        back_url=section_url(HOME),
    )
