"""Routes of the REST API, mounted at /rest/datapipeline/latest/ and its alias /rest/datapipeline/1.0/."""

from __future__ import annotations

from typing import Any

from django.urls import include, path, re_path
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from exports.api import ExportApi, ExportPathApi, HistoryApi, ScheduleApi, SchemaDatasetsApi, SchemaVersionsApi
from optout.api import OptOutApi

from .api_base import PingApi, UnknownEndpointApi

LATEST_PREFIX = "/rest/datapipeline/latest/"

endpoints = [
    path("export", ExportApi.as_view(), name="export"),
    path("history", HistoryApi.as_view(), name="history"),
    path("config/export-path", ExportPathApi.as_view(), name="export-path"),
    path("config/schema", SchemaVersionsApi.as_view(), name="schema"),
    path("config/schema/<str:version>", SchemaDatasetsApi.as_view(), name="schema-datasets"),
    path("config/schedule", ScheduleApi.as_view(), name="schedule"),
    path("config/optout", OptOutApi.as_view(), name="optout"),
    path("ping", PingApi.as_view(), name="ping"),
]

urlpatterns = [
    path("rest/datapipeline/latest/", include((endpoints, "datapipeline"), namespace="latest")),
    path("rest/datapipeline/1.0/", include((endpoints, "datapipeline"), namespace="v1")),
    path("rest/datapipeline/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("rest/datapipeline/docs/", SpectacularSwaggerView.as_view(url_name="openapi"), name="api-docs"),
    path("rest/datapipeline/redoc/", SpectacularRedocView.as_view(url_name="openapi"), name="api-redoc"),
    re_path(r"^rest/", UnknownEndpointApi.as_view()),
]


def only_latest_endpoints(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular hook: document each operation once, under latest/ (1.0/ is the same API)."""
    return [e for e in endpoints if e[0].startswith(LATEST_PREFIX)]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "datapipeline.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A personal access token (dpat_...)."}


class AtlassianSessionScheme(SessionScheme):
    target_class = "datapipeline.authentication.AtlassianSessionAuthentication"
