"""How much demo data to build: named presets, or a factor of the full preset."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoScale:
    """Row counts of one demo site (``contents`` counts pages and blog posts together)."""

    users: int
    spaces: int
    contents: int
    comments: int
    events: int

    def times(self, factor: float) -> "DemoScale":
        """This scale multiplied by ``factor``, keeping the minimum a coherent site needs."""
        users = max(1, round(self.users * factor))
        spaces = max(1, round(self.spaces * factor))
        # Every space has a home page, so there are at least as many pages as spaces.
        contents = max(spaces, round(self.contents * factor))
        return DemoScale(users, spaces, contents, round(self.comments * factor), round(self.events * factor))


FULL = DemoScale(users=100_000, spaces=15_000, contents=1_000_000, comments=600_000, events=800_000)
SCALES = {
    "tiny": DemoScale(users=5, spaces=2, contents=10, comments=10, events=20),
    "small": DemoScale(users=200, spaces=20, contents=2_000, comments=1_200, events=1_600),
    "full": FULL,
}


def scale_parse(value: str) -> DemoScale:
    """A preset name (tiny, small, full) or a positive number that multiplies ``full``; ValueError otherwise."""
    if value in SCALES:
        return SCALES[value]
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not factor > 0 or factor > 100:
        raise ValueError(
            f"Unknown scale {value!r}: use one of {', '.join(SCALES)} or a number between 0 and 100 "
            "that multiplies full (e.g. 0.01)."
        )
    return FULL.times(factor)
