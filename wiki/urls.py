"""The site's own pages (not the data pipeline): mounted at /wiki/."""

from django.urls import path

from . import views

app_name = "wiki"
urlpatterns = [
    path("pages/<int:page_id>/", views.page_view, name="page"),
]
