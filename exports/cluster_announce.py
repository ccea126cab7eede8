"""One line when a qcluster worker starts: which node it runs on and which broker it reads."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

log = logging.getLogger(__name__)


def broker_describe() -> str:
    """The task queue's broker in words, without credentials: 'Redis at host:port/db' or the ORM's database."""
    cluster = settings.Q_CLUSTER
    if cluster.get("redis"):
        url = urlsplit(cluster["redis"]) if isinstance(cluster["redis"], str) else None
        if url is None:
            return "Redis"
        return f"Redis at {url.hostname}:{url.port or 6379}{url.path or '/0'}"
    alias = cluster.get("orm", "default")
    database = settings.DATABASES[alias]
    vendor = database["ENGINE"].rsplit(".", 1)[-1]
    return f"the database ({vendor} {database['NAME']}, alias {alias!r})"


def announce_worker_start(sender: Any = None, proc_name: str = "", **_: Any) -> None:
    """django-q2 ``post_spawn``: say that the cluster's worker is up, on which node, reading which broker."""
    log.info(
        "qcluster %r started on node %s: worker %s ready, broker %s.",
        settings.Q_CLUSTER["name"],
        settings.DATAPIPELINE_NODE_ID,
        proc_name,
        broker_describe(),
    )
