"""Services of the site itself that the export relies on."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from .models import Profile


def profile_ensure_all(*, batch_size: int = 5000) -> int:
    """Give every user without a profile one, so no exported row has an empty user key.

    Users made by ``createsuperuser`` or the plain ``auth`` admin have none. Set-based, a batch
    of ids at a time; returns how many profiles were created.
    """
    users = get_user_model().objects.filter(profile__isnull=True).order_by("pk")
    created = 0
    while batch := list(users.values_list("pk", "first_name", "last_name")[:batch_size]):
        Profile.objects.bulk_create(
            [Profile(user_id=pk, full_name=f"{first} {last}".strip()) for pk, first, last in batch],
            ignore_conflicts=True,  # a profile made meanwhile by someone else is as good
        )
        created += len(batch)
    return created
