"""Only superusers see the Data pipeline entry and reach its URLs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exports.models import ExportJob, JobStatus
from exports.tokens import token_create

from .conftest import make_job, screen_urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(admin_user):
    job = make_job(status=JobStatus.STARTED)
    token, _raw = token_create(user=admin_user, name="ci")
    return job.pk, token.pk


def test_superuser_sees_the_entry_on_the_admin_index(admin_client, pipeline_url):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert f'href="{pipeline_url}"' in response.content.decode()
    names = [app["name"] for app in response.context["app_list"]]
    assert names.count("Data pipeline") == 1  # one section, however many apps register admin pages
    section = next(app for app in response.context["app_list"] if app["name"] == "Data pipeline")
    assert "Export jobs" in [model["name"] for model in section["models"]]


def test_staff_without_superuser_has_no_entry_on_the_index(staff_client, pipeline_url):
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert f'href="{pipeline_url}"' not in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_without_superuser_gets_403_on_every_url(staff_client, ids, method):
    for url in screen_urls(*ids):
        response = getattr(staff_client, method)(url)
        assert response.status_code == 403, url
    # Nothing was done on their behalf.
    assert ExportJob.objects.get(pk=ids[0]).status == JobStatus.STARTED
    assert ExportJob.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_the_login_page_on_every_url(client, ids, method):
    for url in screen_urls(*ids):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_logged_in_non_staff_user_is_sent_to_the_login_page(client, django_user_model, ids):
    user = django_user_model.objects.create_user(username="reader", password="pw-reader-123")
    client.force_login(user)
    response = client.get(reverse("admin:datapipeline_progress"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_jobs_cannot_be_added_edited_or_deleted_through_generic_admin_forms(admin_client):
    job = make_job(status=JobStatus.STARTED)
    assert admin_client.get(reverse("admin:exports_exportjob_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:exports_exportjob_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    )
    response = admin_client.post(reverse("admin:exports_exportjob_change", args=[job.pk]), {"status": "COMPLETED"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:datapipeline_details", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.STARTED
