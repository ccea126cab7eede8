"""The site's request timings: recorded by the middleware into the database, read back by any process."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from datapipeline import sitelatency
from datapipeline.control import make_throttle
from datapipeline.models import RequestTimings
from datapipeline.properties import get_property
from datapipeline.throttle import AdaptiveThrottle, FixedThrottle
from tests.wiki.factories import PageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def timing_on(settings, monkeypatch):
    settings.DATAPIPELINE_SITE_LATENCY = True
    monkeypatch.setattr(sitelatency, "PUBLISH_INTERVAL", 0.0)  # a row per request, not per second
    monkeypatch.setattr(sitelatency, "_recorder", sitelatency._Recorder())


def test_page_views_are_timed_and_readable_by_the_throttle(client, timing_on):
    page = PageFactory()
    before = time.time()
    for _ in range(3):
        assert client.get(f"/wiki/pages/{page.pk}/").status_code == 200
    samples = sitelatency.recent_samples(before - 0.001)
    assert len(samples) >= 2  # the first request opens the row the next ones close
    assert all(before - 0.01 <= start <= time.time() and 0 < ms < 10_000 for start, ms in samples)
    assert RequestTimings.objects.count() >= 1


def test_the_pipelines_own_requests_are_not_the_site(client, timing_on, admin_user):
    client.force_login(admin_user)
    for _ in range(3):
        client.get("/rest/datapipeline/latest/ping")
        client.get("/admin/")
    assert RequestTimings.objects.count() == 0


def test_timing_off_writes_nothing(client, settings):
    settings.DATAPIPELINE_SITE_LATENCY = False
    page = PageFactory()
    for _ in range(3):
        client.get(f"/wiki/pages/{page.pk}/")
    assert RequestTimings.objects.count() == 0


def test_old_rows_are_purged(client, timing_on, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    RequestTimings.objects.create(process="gone:1", samples=[[1.0, 5.0]])
    RequestTimings.objects.update(published=timezone.now() - timedelta(seconds=sitelatency.KEEP_SECONDS + 1))
    page = PageFactory()
    client.get(f"/wiki/pages/{page.pk}/")
    client.get(f"/wiki/pages/{page.pk}/")
    assert not RequestTimings.objects.filter(process="gone:1").exists()


def test_the_default_throttle_is_adaptive_and_a_number_keeps_the_fixed_ratio(monkeypatch):
    assert get_property("plugin.data.pipeline.throttle.ratio") == "adaptive"
    assert isinstance(make_throttle("adaptive"), AdaptiveThrottle)
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_THROTTLE_RATIO", "1.5")
    fixed = make_throttle(get_property("plugin.data.pipeline.throttle.ratio"))
    assert isinstance(fixed, FixedThrottle)
    assert fixed.pause_after(1.0) == 1.5
    assert make_throttle(0.0) is None


def test_the_command_refuses_a_throttle_that_is_neither_adaptive_nor_a_number():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="fast"):
        call_command("pipeline_config", "set", "plugin.data.pipeline.throttle.ratio", "fast")
    call_command("pipeline_config", "set", "plugin.data.pipeline.throttle.ratio", "ADAPTIVE")
    assert get_property("plugin.data.pipeline.throttle.ratio") == "adaptive"
