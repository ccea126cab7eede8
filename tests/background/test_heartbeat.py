"""The heartbeat thread keeps a running job alive while the runner itself is busy elsewhere."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from datapipeline.heartbeat import Heartbeat, heartbeat_interval
from exports.configuration import property_set
from exports.jobs import job_beat
from exports.models import ExportJob, JobStatus
from exports.services import export_start


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_moves_on_while_the_runner_is_blocked_and_stops_with_the_job():
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    job = export_start(enqueue=False)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat=None)
    before_threads = threading.active_count()

    beat = Heartbeat(job.pk, beat=partial(job_beat, job.pk), interval=0.05)
    beat.start()
    time.sleep(0.6)  # the runner stuck in one long statement or an fsync: no progress update
    first = ExportJob.objects.values_list("heartbeat", flat=True).get(pk=job.pk)
    time.sleep(0.3)
    second = ExportJob.objects.values_list("heartbeat", flat=True).get(pk=job.pk)
    beat.stop()

    assert first is not None and second > first
    assert threading.active_count() == before_threads  # the thread ended, its connection closed
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)
    stopped = ExportJob.objects.values_list("heartbeat", flat=True).get(pk=job.pk)
    time.sleep(0.2)
    assert ExportJob.objects.values_list("heartbeat", flat=True).get(pk=job.pk) == stopped


def test_the_interval_leaves_several_beats_within_the_timeout(settings):
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 30
    assert heartbeat_interval() == 5.0
    settings.DATAPIPELINE_HEARTBEAT_TIMEOUT = 6
    assert heartbeat_interval() == 1.0
