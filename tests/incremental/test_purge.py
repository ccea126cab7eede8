"""The change log keeps what a future incremental export can use and nothing older."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datapipeline.models import ChangeLog
from exports.housekeeping import changelog_purge
from exports.models import ExportJob
from tests.incremental.sitegen import SiteChanges


@pytest.mark.django_db
def test_purge_keeps_entries_from_the_last_completed_export_minus_the_lookback(run_job):
    site = SiteChanges(3)
    site.build()
    assert ChangeLog.objects.exists()
    base, _ = run_job()
    site.round(5)
    ChangeLog.objects.update(changed_at=base.start_time - timedelta(seconds=1))  # before the base (lookback 0)
    site.round(5)
    kept = ChangeLog.objects.filter(changed_at__gte=base.start_time).count()
    assert changelog_purge() > 0
    assert ChangeLog.objects.count() == kept > 0
    ExportJob.objects.all().delete()
    changelog_purge()
    assert not ChangeLog.objects.exists()
