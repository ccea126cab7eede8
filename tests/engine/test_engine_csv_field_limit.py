"""A v2 export keeps a page body whole, so Python's csv module needs its field limit raised to read it back."""

from __future__ import annotations

import _csv
import csv
from collections.abc import Iterator

import pytest

from tests.engine.sitedata import FROM_DATE
from tests.wiki.factories import PageFactory, SpaceFactory

DEFAULT_LIMIT = 131_072
BODY = "word " * 40_000  # 200,000 characters


@pytest.fixture
def field_limit() -> Iterator[None]:
    """csv's limit is process-wide: start from the default, put back whatever was set."""
    before = csv.field_size_limit(DEFAULT_LIMIT)
    yield
    csv.field_size_limit(before)


def read_pages(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_v2_body_over_131072_characters_needs_the_raised_field_limit(db, run_job, field_limit):
    page = PageFactory(space=SpaceFactory(key="BIG"), body=BODY, updated=FROM_DATE)
    job, directory = run_job(schema_version=2)
    assert job.status == "COMPLETED", job.errors
    (path,) = directory.glob("pages_job*_v2_*.csv")
    assert len(BODY) > DEFAULT_LIMIT

    with pytest.raises(_csv.Error, match=r"field larger than field limit \(131072\)"):
        read_pages(path)

    csv.field_size_limit(2**31 - 1)  # the documented line
    (row,) = read_pages(path)
    assert (row["page_id"], row["page_content"]) == (str(page.pk), BODY)
