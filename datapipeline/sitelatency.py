"""The site's own request latency: timed by a middleware in every web process, read by the adaptive throttle.

Each web process times the site's requests and, at most once a second, stores what it timed since as
one ``RequestTimings`` row (each request's start as a Unix time and its duration in milliseconds).
Any process can then read the last minute of the whole site's requests, whichever process served
them; rows older than ``KEEP_SECONDS`` are purged by the processes that write them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from .models import RequestTimings

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 1.0  # seconds between two rows of one process
PURGE_INTERVAL = 60.0
KEEP_SECONDS = 600
MAX_PENDING = 5000  # a process serving more than this per second keeps the first ones: enough for a median
# The pipeline's own screens and API poll while an export runs; they are not the site the throttle protects.
DEFAULT_EXCLUDED = ("/rest/datapipeline/", "/admin/", "/favicon.ico")


class _Recorder:
    """This process's requests timed since its last row."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[tuple[float, float]] = []
        self.last_publish = time.monotonic()
        self.last_purge = 0.0
        self.process = f"{socket.gethostname()}:{os.getpid()}"

    def add(self, started: float, milliseconds: float) -> list[tuple[float, float]] | None:
        """Record one request; return the samples to store when a row is due, else None."""
        with self.lock:
            if len(self.pending) < MAX_PENDING:
                self.pending.append((round(started, 3), round(milliseconds, 2)))
            now = time.monotonic()
            if now - self.last_publish < PUBLISH_INTERVAL:
                return None
            self.last_publish = now
            batch, self.pending = self.pending, []
            return batch

    def purge_due(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if now - self.last_purge < PURGE_INTERVAL:
                return False
            self.last_purge = now
            return True


_recorder = _Recorder()


def publish(samples: list[tuple[float, float]]) -> None:
    """Store one row of samples (and now and then drop old rows); a database error never fails a request."""
    try:
        RequestTimings.objects.create(process=_recorder.process, samples=samples)
        if _recorder.purge_due():
            RequestTimings.objects.filter(published__lt=timezone.now() - timedelta(seconds=KEEP_SECONDS)).delete()
    except DatabaseError as exc:  # e.g. migrations not applied yet: the site keeps working
        log.warning("Could not store request timings: %s", exc)


def recent_samples(since: float) -> list[tuple[float, float]]:
    """Every request of the site that started at or after Unix time ``since``: (start, milliseconds), by start."""
    # A row is stored up to PUBLISH_INTERVAL after its first request, and later when the process is quiet.
    stored_after = datetime.fromtimestamp(since, tz=UTC) - timedelta(seconds=PUBLISH_INTERVAL + 1)
    rows = RequestTimings.objects.filter(published__gte=stored_after).values_list("samples", flat=True)
    return sorted((start, ms) for samples in rows for start, ms in samples if start >= since)


class SiteLatencyMiddleware:
    """Times each of the site's requests (settings.DATAPIPELINE_SITE_LATENCY; the pipeline's own paths excluded)."""

    def __init__(self, get_response):
        self.get_response = get_response
        static = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None
        excluded = getattr(settings, "DATAPIPELINE_LATENCY_EXCLUDED_PATHS", DEFAULT_EXCLUDED)
        self.excluded = tuple(p for p in (*excluded, static) if p)

    def __call__(self, request):
        if not getattr(settings, "DATAPIPELINE_SITE_LATENCY", True) or request.path.startswith(self.excluded):
            return self.get_response(request)
        started_wall, started = time.time(), time.perf_counter()
        response = self.get_response(request)
        batch = _recorder.add(started_wall, (time.perf_counter() - started) * 1000)
        if batch:
            publish(batch)
        return response
