from pathlib import Path

import drf_spectacular_sidecar
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

# The API docs page's assets come with drf-spectacular-sidecar (no CDN); served from the
# package even without collectstatic, so the docs page works wherever the project runs.
SIDECAR_STATIC = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^static/drf_spectacular_sidecar/(?P<path>.*)$", serve, {"document_root": SIDECAR_STATIC}),
    path("wiki/", include("wiki.urls")),
    path("", include("datapipeline.urls")),
]
