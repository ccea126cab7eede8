"""Row generators of a demo site: one seeded plan, rows streamed table by table as tuples.

Everything derives from the seed and the site's "now" (the moment the newest activity happened,
by default the clock when the command runs), so the same seed and the same now give the same
site byte for byte. Rows are yielded one at a time; what later
tables need from earlier ones (when each page was created, which page a comment is on) is
kept in compact arrays of integers, a few MB at the full scale, never as model instances.
Run the generators in the order of ``DemoPlan.tables()``: each one fills what the next reads.
"""

import bisect
import math
import random
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from .scale import DemoScale
from .text import FIRST_NAMES, LABELS, LAST_NAMES, SPACE_WORDS, TextPool

# Activity is spread over the two years before the site's "now", so an export's default fromDate
# (now minus 365 days) leaves part of it out; the newest event is less than an hour old.
SPAN_SECONDS = 730 * 24 * 3600
NEWEST_EVENT_MAX_AGE_SECONDS = 3600
# Pages per global space follow a Zipf law of this exponent (a few big spaces, a long tail of small
# ones); a personal space holds its home page and at most PERSONAL_EXTRA_PAGES more.
ZIPF_EXPONENT = 0.7
PERSONAL_EXTRA_PAGES = 6
# One unusable password for every demo user: hashing 100,000 passwords would take hours.
UNUSABLE_PASSWORD = "!demo-data-unusable-password"  # noqa: S105 (starts with "!": unusable)

USER_COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
    "is_staff", "is_active", "date_joined",
)  # fmt: skip
PROFILE_COLUMNS = ("id", "user_id", "user_key", "full_name")
SPACE_COLUMNS = (
    "id", "key", "name", "space_type", "status", "homepage_id", "creator_id", "last_modifier_id", "created", "updated",
)  # fmt: skip
CONTENT_COLUMNS = (
    "id", "space_id", "content_type", "title", "body", "parent_id", "labels", "version", "version_comment", "status",
    "creator_id", "last_modifier_id", "created", "updated",
)  # fmt: skip
COMMENT_COLUMNS = (
    "id", "content_id", "space_id", "parent_id", "body", "location", "creator_id", "last_modifier_id", "created",
    "updated",
)  # fmt: skip
EVENT_COLUMNS = ("id", "name", "created", "author_id", "space_id", "container_id", "content_id")

EVENT_ACTIONS = (
    # (kind, action, weight): views dominate, as on a real site.
    ("page", "viewed", 40), ("page", "created", 5), ("page", "updated", 10),
    ("blog", "viewed", 10), ("blog", "created", 2), ("blog", "updated", 2),
    ("comment", "viewed", 8), ("comment", "created", 6), ("comment", "updated", 2),
    ("attachment", "viewed", 8), ("attachment", "created", 4), ("attachment", "updated", 3),
)  # fmt: skip
EVENT_CUM_WEIGHTS = [sum(w for _, _, w in EVENT_ACTIONS[: i + 1]) for i in range(len(EVENT_ACTIONS))]
PAGE, BLOG = 0, 1
_MASK = (1 << 64) - 1


def _mix(seed: int, i: int) -> int:
    """A cheap, well-spread hash of (seed, i) (splitmix64), for values that must be a function of i."""
    z = (seed * 0x9E3779B97F4A7C15 + (i + 1) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _coprime_stride(n: int) -> int:
    stride = int(n * 0.618) + 1
    while math.gcd(stride, n) != 1:
        stride += 1
    return stride % n or 1


class DemoPlan:
    """The shape of one demo site (who owns which space, how many pages each space has) and its rows."""

    def __init__(
        self, scale: DemoScale, seed: int, *, now: datetime, user_id_base: int = 1, profile_id_base: int = 1
    ) -> None:
        if now.tzinfo is None:
            raise ValueError(f"now must have a time zone, not {now.isoformat()}")
        self.scale = scale
        self.seed = seed
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(seconds=SPAN_SECONDS)
        self.user_id_base = user_id_base
        self.profile_id_base = profile_id_base
        self.text = TextPool(seed)
        rng = random.Random(f"demo-plan-{seed}")
        n_users, n_spaces = scale.users, scale.spaces

        # Spaces: three in ten are personal (while there are users to own them), about one in seven archived.
        stride = _coprime_stride(n_users)
        self.space_owner = array("q", [-1]) * n_spaces  # user index, or -1 for a global space
        personal = 0
        for j in range(n_spaces):
            if j % 10 in (1, 4, 7) and personal < n_users:
                self.space_owner[j] = (personal * stride) % n_users
                personal += 1
        self.space_created = array("q", (rng.randrange(SPAN_SECONDS * 2 // 5) for _ in range(n_spaces)))

        sizes = self._space_sizes(rng)
        self.space_start = array("q", [0]) * (n_spaces + 1)
        for j, size in enumerate(sizes):
            self.space_start[j + 1] = self.space_start[j] + size

        # Filled by the content and comment generators, read by the later ones.
        self.content_created = array("q", [0]) * scale.contents
        self.content_kind = bytearray(scale.contents)
        self.comment_content = array("q", [0]) * scale.comments

    def _space_sizes(self, rng: random.Random) -> list[int]:
        """Contents per space: a home page each; a few more in personal spaces; the rest Zipf over global ones."""
        n_spaces, contents = self.scale.spaces, self.scale.contents
        sizes = [1] * n_spaces
        rest = contents - n_spaces
        for j in range(n_spaces):
            if self.space_owner[j] >= 0 and rest > 0:
                extra = min(rest, rng.randint(0, PERSONAL_EXTRA_PAGES))
                sizes[j] += extra
                rest -= extra
        global_spaces = [j for j in range(n_spaces) if self.space_owner[j] < 0] or list(range(n_spaces))
        rng.shuffle(global_spaces)  # which space is the biggest depends on the seed, not on its position
        weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(global_spaces))]
        total_weight = sum(weights)
        shares = [int(rest * w / total_weight) for w in weights]
        for rank in range(rest - sum(shares)):  # what rounding left over, to the biggest first
            shares[rank % len(shares)] += 1
        for j, share in zip(global_spaces, shares, strict=True):
            sizes[j] += share
        return sizes

    def _at(self, offset: int) -> datetime:
        return self.start + timedelta(seconds=offset)

    # --- pure functions of an index, so that any table can name any user or space -------------
    def user_names(self, i: int) -> tuple[str, str, str]:
        """(username, first name, last name) of user ``i`` (0-based)."""
        h = _mix(self.seed, i)
        first, first_ascii = FIRST_NAMES[h % len(FIRST_NAMES)]
        last, last_ascii = LAST_NAMES[(h >> 20) % len(LAST_NAMES)]
        return f"{first_ascii}.{last_ascii}{i + 1}", first, last

    def space_key_and_name(self, j: int) -> tuple[str, str]:
        owner = self.space_owner[j]
        if owner >= 0:
            username, first, last = self.user_names(owner)
            return f"~{username}", f"{first} {last}"
        name, abbr = SPACE_WORDS[_mix(self.seed, j) % len(SPACE_WORDS)]
        return f"{abbr}{j + 1}", name if j < len(SPACE_WORDS) else f"{name} {j + 1}"

    def space_of_content(self, c: int) -> int:
        return bisect.bisect_right(self.space_start, c) - 1

    def _user_id(self, rng: random.Random) -> int:
        return self.user_id_base + rng.randrange(self.scale.users)

    # --- the tables, in load order -------------------------------------------------------------
    def tables(self) -> list[tuple[str, tuple[str, ...], int, Iterator[tuple]]]:
        """(label, columns, row count, rows) per table, in the order they must be generated and loaded."""
        s = self.scale
        return [
            ("users", USER_COLUMNS, s.users, self.users()),
            ("profiles", PROFILE_COLUMNS, s.users, self.profiles()),
            ("spaces", SPACE_COLUMNS, s.spaces, self.spaces()),
            ("pages and blog posts", CONTENT_COLUMNS, s.contents, self.contents()),
            ("comments", COMMENT_COLUMNS, s.comments, self.comments()),
            ("analytics events", EVENT_COLUMNS, s.events, self.events()),
        ]

    def users(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-users-{self.seed}")
        for i in range(self.scale.users):
            username, first, last = self.user_names(i)
            joined = rng.randrange(-SPAN_SECONDS // 2, SPAN_SECONDS - 30 * 24 * 3600)
            last_login = None if rng.random() < 0.15 else self._at(joined + rng.randrange(SPAN_SECONDS - joined))
            email = "" if rng.random() < 0.02 else f"{username}@example.com"
            active = rng.random() >= 0.08
            yield (
                self.user_id_base + i, UNUSABLE_PASSWORD, last_login, False, username, first, last, email,
                False, active, self._at(joined),
            )  # fmt: skip

    def profiles(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-profiles-{self.seed}")
        for i in range(self.scale.users):
            _, first, last = self.user_names(i)
            key = f"{rng.getrandbits(128):032x}"
            yield self.profile_id_base + i, self.user_id_base + i, key, f"{first} {last}"

    def spaces(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-spaces-{self.seed}")
        for j in range(self.scale.spaces):
            key, name = self.space_key_and_name(j)
            owner = self.space_owner[j]
            personal = owner >= 0
            creator = self.user_id_base + owner if personal else self._user_id(rng)
            modifier = creator if personal or rng.random() < 0.5 else self._user_id(rng)
            created = self.space_created[j]
            updated = created + rng.randrange(SPAN_SECONDS - created)
            yield (
                j + 1, key, name, "personal" if personal else "global",
                "archived" if j % 7 == 3 else "current", self.space_start[j] + 1, creator, modifier,
                self._at(created), self._at(updated),
            )  # fmt: skip

    def contents(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-contents-{self.seed}")
        text = self.text
        for j in range(self.scale.spaces):
            owner = self.space_owner[j]
            space_created = self.space_created[j]
            page_ids: list[int] = []
            for c in range(self.space_start[j], self.space_start[j + 1]):
                home = not page_ids
                blog = not home and rng.random() < (0.25 if owner >= 0 else 0.15)
                if home:
                    title = f"{self.space_key_and_name(j)[1]} Home"
                    parent = None
                    created = space_created
                else:
                    title = text.title(rng, blog=blog)
                    parent = None if blog or rng.random() < 0.1 else rng.choice(page_ids)
                    created = space_created + rng.randrange(SPAN_SECONDS - space_created)
                if not blog:
                    page_ids.append(c + 1)
                long = c % 100 == 7 or rng.random() < 0.005
                body = text.body(rng, title, long=long, awkward=home)
                labels = [] if rng.random() < 0.3 else sorted(set(rng.choices(LABELS, k=rng.randint(1, 4))))
                version = 1 + min(int(rng.expovariate(0.5)), 60)
                r = rng.random()
                version_comment = None if r < 0.4 else "" if r < 0.5 else rng.choice(text.version_comments)
                r = rng.random()
                status = (
                    "current" if home or r < 0.88 else "draft" if r < 0.93 else "trashed" if r < 0.97 else "historical"
                )
                creator = self.user_id_base + owner if owner >= 0 and rng.random() < 0.8 else self._user_id(rng)
                modifier = creator if version == 1 or rng.random() < 0.4 else self._user_id(rng)
                updated = created if version == 1 else created + rng.randrange(SPAN_SECONDS - created + 1)
                self.content_created[c] = created
                self.content_kind[c] = BLOG if blog else PAGE
                yield (
                    c + 1, j + 1, "blogpost" if blog else "page", title, body, parent, labels, version,
                    version_comment, status, creator, modifier, self._at(created), self._at(updated),
                )  # fmt: skip

    def comments(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-comments-{self.seed}")
        text = self.text
        n_comments, n_contents = self.scale.comments, self.scale.contents
        m = 0
        while m < n_comments:
            # A thread: a few comments on one page, some of them replies (same page, same location).
            c = rng.randrange(n_contents)
            start = self.content_created[c]
            thread: list[tuple[int, str, int]] = []
            for _ in range(min(n_comments - m, 1 + int(rng.expovariate(0.6)))):
                if thread and rng.random() < 0.6:
                    parent, location, after = rng.choice(thread)
                else:
                    parent, location, after = None, "inline" if rng.random() < 0.25 else "footer", start
                created = after + rng.randrange(SPAN_SECONDS - after + 1)
                updated = created if rng.random() < 0.8 else created + rng.randrange(SPAN_SECONDS - created + 1)
                creator = self._user_id(rng)
                modifier = creator if rng.random() < 0.9 else self._user_id(rng)
                body = text.comment(rng, long=m % 40 == 3 or rng.random() < 0.01)
                self.comment_content[m] = c
                thread.append((m + 1, location, created))
                yield (
                    m + 1, c + 1, self.space_of_content(c) + 1, parent, body, location, creator, modifier,
                    self._at(created), self._at(updated),
                )  # fmt: skip
                m += 1

    def events(self) -> Iterator[tuple]:
        rng = random.Random(f"demo-events-{self.seed}")
        n_contents, n_comments = self.scale.contents, self.scale.comments
        for e in range(self.scale.events):
            kind, action, _ = rng.choices(EVENT_ACTIONS, cum_weights=EVENT_CUM_WEIGHTS)[0]
            if kind == "comment" and n_comments:
                m = rng.randrange(n_comments)
                c = self.comment_content[m]
                content_id = m + 1
            else:
                if kind == "comment":
                    kind = "page"
                want = BLOG if kind == "blog" else PAGE
                c = rng.randrange(n_contents)
                for _ in range(8):
                    if self.content_kind[c] == want:
                        break
                    c = rng.randrange(n_contents)
                if kind != "attachment":
                    # The event names what the container really is.
                    kind = "blog" if self.content_kind[c] == BLOG else "page"
                # Attachments have no table here: their ids lie above every page's.
                content_id = n_contents + 1 + rng.randrange(n_contents) if kind == "attachment" else c + 1
            start = self.content_created[c]
            if e == self.scale.events - 1:  # the newest activity: within the last hour of now
                created = SPAN_SECONDS - 1 - rng.randrange(min(NEWEST_EVENT_MAX_AGE_SECONDS, SPAN_SECONDS - start))
            elif action == "created" and kind != "comment":
                created = start
            else:
                created = start + rng.randrange(SPAN_SECONDS - start + 1)
            author = None if rng.random() < 0.05 else self._user_id(rng)
            space = None if rng.random() < 0.03 else self.space_of_content(c) + 1
            yield e + 1, f"{kind}_{action}", self._at(created), author, space, c + 1, content_id
