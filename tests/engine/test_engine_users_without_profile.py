"""A user made by createsuperuser (no profile) still gets one stable key in every column that names them."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime

from django.contrib.auth import get_user_model

from wiki.models import Content, Profile, Space


def rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_users_without_a_profile_are_exported_with_a_stable_key(db, run_job):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw", first_name="Ro", last_name="Ot")
    assert not Profile.objects.filter(user=admin).exists()
    when = datetime(2026, 6, 1, tzinfo=UTC)
    space = Space.objects.create(key="OPS", name="Ops", creator=admin, created=when, updated=when)
    Content.objects.create(space=space, title="Runbook", creator=admin, last_modifier=admin, created=when, updated=when)

    _job, directory = run_job(from_date="2026-01-01T00:00:00Z")

    key = Profile.objects.get(user=admin).user_key
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    [user] = rows(next(directory.glob("users_*.csv")))
    assert (user["user_id"], user["user_name"], user["user_fullname"]) == (key, "root", "Ro Ot")
    [page] = rows(next(directory.glob("pages_*.csv")))
    assert page["creator_id"] == page["last_modifier_id"] == key
    [space_row] = rows(next(directory.glob("spaces_*.csv")))
    assert space_row["creator_id"] == key

    run_job(from_date="2026-01-01T00:00:00Z")
    assert Profile.objects.get(user=admin).user_key == key  # stable across exports
