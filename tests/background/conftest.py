"""Fixtures for the background-export tests: django-q2 sync mode, and a real qcluster harness."""

from __future__ import annotations

import pytest


@pytest.fixture
def sync_q(monkeypatch):
    """Run queued tasks at once in this process, as a worker would (Q_CLUSTER['sync'])."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    return Conf
