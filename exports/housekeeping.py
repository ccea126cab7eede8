"""Freeing exports whose worker died: a django-q2 schedule every minute, and at each worker's start.

``job_reap_stale`` also runs whenever an export is requested; these two make sure a dead
worker's job is ended even when nobody asks for a new export.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError

from .jobs import job_reap_stale

log = logging.getLogger(__name__)

REAPER_SCHEDULE_NAME = "datapipeline: end exports whose worker died"
REAPER_FUNC = "exports.tasks.reap_stale_exports_task"


def ensure_reaper_schedule(*, using: str = "default", **_: Any) -> None:
    """Create (once) the every-minute schedule that reaps stale exports; run after every migrate."""
    from django_q.models import Schedule

    wanted = {"func": REAPER_FUNC, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1}
    try:
        schedule, created = Schedule.objects.using(using).get_or_create(name=REAPER_SCHEDULE_NAME, defaults=wanted)
        if not created and any(getattr(schedule, field) != value for field, value in wanted.items()):
            # Someone edited it in the admin into something that no longer reaps: put it back.
            for field, value in wanted.items():
                setattr(schedule, field, value)
            schedule.save(using=using)
    except DatabaseError:  # django_q's tables are not migrated yet (partial migrate)
        log.warning("Could not create the schedule %r; run `manage.py migrate`.", REAPER_SCHEDULE_NAME)


def post_migrate_handler(sender: Any, using: str = "default", **kwargs: Any) -> None:
    ensure_reaper_schedule(using=using)


def reap_on_worker_start(sender: Any = None, proc_name: str = "", **_: Any) -> None:
    """django-q2 ``post_spawn``: a (re)started worker first ends jobs left behind by a dead one."""
    # No connection handling here: the worker closes stale connections before each task, and in
    # sync mode this runs inside the caller's transaction.
    try:
        reaped = job_reap_stale()
        if reaped:
            log.warning("Worker %s ended stale exports %s (their worker had died).", proc_name, reaped)
    except DatabaseError:
        log.exception("Worker %s could not check for stale exports", proc_name)


def changelog_purge(*, now: Any = None) -> int:
    """Remove change-log entries older than the oldest base any future incremental export could use: the
    last COMPLETED export of each schema version, and any running export's own base, minus the lookback.
    With no completed export at all, every entry goes (the next incremental export runs full)."""
    from datetime import timedelta

    from django.db.models import Max, Min
    from django.utils import timezone

    from datapipeline.models import ChangeLog
    from datapipeline.properties import get_property

    from .models import ACTIVE_STATUSES, ExportJob, JobStatus

    lookback = timedelta(seconds=get_property("plugin.data.pipeline.incremental.lookback.seconds"))
    latest = (
        ExportJob.objects.filter(status=JobStatus.COMPLETED).values("schema_version").annotate(at=Max("start_time"))
    )
    starts = [row["at"] - lookback for row in latest]
    running = ExportJob.objects.filter(status__in=ACTIVE_STATUSES).aggregate(at=Min("changes_since"))["at"]
    if running is not None:
        starts.append(running)
    cutoff = min(starts) if starts else (now or timezone.now())
    deleted, _ = ChangeLog.objects.filter(changed_at__lt=cutoff).delete()
    return deleted
