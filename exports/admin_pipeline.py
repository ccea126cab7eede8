"""The admin entry of the Data pipeline: ExportJob's changelist is the Data pipeline screen.

Export jobs are never edited or deleted through generic admin forms: the screen starts and
cancels them through the services. Every URL is for superusers only (403 for other staff,
the login page for anonymous users).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from . import admin_views as views
from .models import ExportJob


def superuser_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied("Only superusers may use the Data pipeline.")
        return view(request, *args, **kwargs)

    return wrapped


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """The changelist of export jobs is the Data pipeline screen; jobs are read-only here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: ExportJob | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExportJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ExportJob | None = None) -> bool:
        # Jobs are the export history; an active one must never vanish under its worker.
        return False

    def get_urls(self) -> list:
        def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(superuser_only(lambda request, *a, **kw: view(request, self, *a, **kw)))

        custom = [
            path("start/", wrap(views.export_start_view), name="datapipeline_start"),
            path("progress.json", wrap(views.progress_json), name="datapipeline_progress"),
            path("<int:job_id>/details/", wrap(views.job_details), name="datapipeline_details"),
            path("<int:job_id>/cancel/", wrap(views.job_cancel), name="datapipeline_cancel"),
            path("schedule/", wrap(views.schedule_view), name="datapipeline_schedule"),
            path("opt-out/", wrap(views.optout_view), name="datapipeline_optout"),
            path("export-path/", wrap(views.export_path_view), name="datapipeline_export_path"),
            path("properties/", wrap(views.properties_view), name="datapipeline_properties"),
            path("tokens/", wrap(views.tokens_view), name="datapipeline_tokens"),
            path("tokens/<int:token_id>/revoke/", wrap(views.token_revoke_view), name="datapipeline_token_revoke"),
        ]
        return custom + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return views.pipeline_index(request, self)

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            return HttpResponseRedirect(reverse("admin:exports_exportjob_changelist"))
        return HttpResponseRedirect(reverse("admin:datapipeline_details", args=[int(object_id)]))
