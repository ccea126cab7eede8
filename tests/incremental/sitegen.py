"""A randomised generator of site changes for the incremental-export tests, and reading export files."""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from optout.services import optout_add, optout_list, optout_remove
from wiki.models import AnalyticsEvent, Comment, Content, Profile, Space

FAR_PAST = "2000-01-01T00:00:00Z"
KEYS = {
    "users": "user_id",
    "spaces": "space_key",
    "pages": "page_id",
    "comments": "comment_id",
    "analytics": "event_id",
}


class SiteChanges:
    """Applies random changes to the site: creates, updates (saves and bulk updates), deletes (cascades
    included), status changes, renamed users, space key changes, moved pages, opt-outs added and removed."""

    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.counter = 0
        self.when = datetime(2026, 1, 1, tzinfo=UTC)

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    def _time(self) -> datetime:
        self.when += timedelta(minutes=self.rnd.randint(1, 300))
        return self.when

    def _pick(self, queryset: Any) -> Any:
        ids = list(queryset.values_list("pk", flat=True))
        return queryset.model.objects.get(pk=self.rnd.choice(ids)) if ids else None

    def _user(self) -> Any:
        return self._pick(get_user_model().objects.all()) if self.rnd.random() < 0.9 else None

    # --- creating ------------------------------------------------------------------------------
    def new_user(self) -> None:
        n = self._n()
        user = get_user_model().objects.create(username=f"user{n}", email=f"u{n}@example.com", date_joined=self._time())
        if self.rnd.random() < 0.8:  # else the export's prepare gives it a profile
            Profile.objects.create(user=user, full_name=f"User {n}")

    def new_space(self) -> None:
        n = self._n()
        Space.objects.create(key=f"S{n}", name=f"Space {n}", creator=self._user(), created=self._time(),
                             updated=self.when)  # fmt: skip

    def new_page(self) -> None:
        space = self._pick(Space.objects.all())
        if space is None:
            return
        status = self.rnd.choice([Content.Status.CURRENT] * 4 + [Content.Status.DRAFT])
        Content.objects.create(space=space, title=f"Page {self._n()}", body="<p>x</p>", status=status,
                               labels=self.rnd.choice([[], ["a"], ["a", "b"]]), creator=self._user(),
                               updated=self._time())  # fmt: skip

    def new_comment(self) -> None:
        page = self._pick(Content.objects.all())
        if page is None:
            return
        parent = self._pick(Comment.objects.filter(content=page)) if self.rnd.random() < 0.3 else None
        Comment.objects.create(content=page, parent=parent, body=f"c{self._n()}", creator=self._user(),
                               updated=self._time())  # fmt: skip

    def new_event(self) -> None:
        page = self._pick(Content.objects.all())
        AnalyticsEvent.objects.create(name="page_viewed", author=self._user(), created=self._time(),
                                      space_id=page.space_id if page else None,
                                      container_id=page.pk if page else None)  # fmt: skip

    # --- changing ------------------------------------------------------------------------------
    def rename_user(self) -> None:
        user = self._pick(get_user_model().objects.all())
        if user is None:
            return
        n = self._n()
        choice = self.rnd.randrange(4)
        if choice == 0:
            user.username = f"renamed{n}"
            user.save()
        elif choice == 1:
            Profile.objects.filter(user=user).update(full_name=f"Renamed {n}")  # bulk update
        elif choice == 2:
            get_user_model().objects.filter(pk=user.pk).update(is_active=not user.is_active, last_login=self._time())
        else:
            Profile.objects.filter(user=user).delete()  # the next export's prepare makes a new key

    def change_space_key(self) -> None:
        space = self._pick(Space.objects.all())
        if space is None:
            return
        if self.rnd.random() < 0.5:
            space.key = f"K{self._n()}"
            space.save()
        else:
            Space.objects.filter(pk=space.pk).update(
                name=f"Renamed {self._n()}", homepage=self._pick(Content.objects.all())
            )

    def update_page(self) -> None:
        page = self._pick(Content.objects.all())
        if page is None:
            return
        choice = self.rnd.randrange(4)
        if choice == 0:
            page.title, page.version, page.updated = f"Title {self._n()}", page.version + 1, self._time()
            page.last_modifier = self._user()
            page.save()
        elif choice == 1:  # bulk update, the date untouched
            Content.objects.filter(pk=page.pk).update(labels=["z"], version_comment=f"v{self._n()}")
        elif choice == 2:
            page.status = self.rnd.choice(list(Content.Status))
            page.save()
        else:  # moved to another space, with its comments (Content.save)
            space = self._pick(Space.objects.exclude(pk=page.space_id))
            if space is not None:
                page.space = space
                page.save()

    def update_comment(self) -> None:
        comment = self._pick(Comment.objects.all())
        if comment is not None:
            if self.rnd.random() < 0.5:
                comment.body, comment.updated = f"edited {self._n()}", self._time()
                comment.save()
            else:
                Comment.objects.filter(pk=comment.pk).update(location=Comment.Location.INLINE)

    # --- deleting ------------------------------------------------------------------------------
    def delete_something(self) -> None:
        model = self.rnd.choice([Content, Content, Comment, AnalyticsEvent, Space, get_user_model()])
        if model is Content and self.rnd.random() < 0.3:  # bulk delete (cascades the comments)
            space = self._pick(Space.objects.all())
            if space is not None:
                Content.objects.filter(space=space, status=Content.Status.DRAFT).delete()
            return
        row = self._pick(model.objects.exclude(is_superuser=True) if model is get_user_model() else model.objects.all())
        if row is not None:
            row.delete()

    def toggle_optout(self) -> None:
        listed = optout_list()
        if listed and self.rnd.random() < 0.5:
            optout_remove(keys=[self.rnd.choice(listed)])
        else:
            space = self._pick(Space.objects.exclude(key__in=listed))
            if space is not None:
                optout_add(keys=[space.key])

    OPERATIONS = (
        (new_user, 2), (new_space, 1), (new_page, 4), (new_comment, 4), (new_event, 3),
        (rename_user, 2), (change_space_key, 2), (update_page, 5), (update_comment, 3),
        (delete_something, 4), (toggle_optout, 1),
    )  # fmt: skip

    def build(self) -> None:
        for make, count in ((self.new_user, 5), (self.new_space, 4), (self.new_page, 15), (self.new_comment, 20),
                            (self.new_event, 12)):  # fmt: skip
            for _ in range(count):
                make()

    def round(self, changes: int) -> list[str]:
        done = []
        operations, weights = zip(*self.OPERATIONS, strict=True)
        for operation in self.rnd.choices(operations, weights=weights, k=changes):
            operation(self)
            done.append(operation.__name__)
        return done


# --- reading export files ----------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def files_of(directory: Path) -> dict[tuple[str, str], Path]:
    """(entity, content) -> path, from the manifest."""
    return {(f["entity"], f["content"]): directory / f["file"] for f in manifest(directory)["files"]}


def table(path: Path, key: str) -> dict[str, tuple[str, ...]]:
    header, rows = read_csv(path)
    index = header.index(key)
    keyed = {row[index]: tuple(row) for row in rows}
    assert len(keyed) == len(rows), f"{path.name}: a key appears twice"
    return keyed


def apply_increment(state: dict[str, dict[str, tuple[str, ...]]], directory: Path) -> None:
    """Upsert each dataset's rows by key, then delete its deleted keys."""
    files = files_of(directory)
    for entity, key in KEYS.items():
        state[entity].update(table(files[(entity, "rows")], key))
        header, deleted = read_csv(files[(entity, "deletedKeys")])
        assert header == [key, "deleted_date"]
        for row in deleted:
            state[entity].pop(row[0], None)


def full_state(directory: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    files = files_of(directory)
    return {entity: table(files[(entity, "rows")], key) for entity, key in KEYS.items()}
