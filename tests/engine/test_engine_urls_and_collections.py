"""URL columns percent-encode the values they hold; an empty collection is an empty cell. Both export paths
(the standard one everywhere, PostgreSQL's COPY where it runs), both schema versions, read back by pandas."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.engine.sitedata import FROM_DATE
from tests.wiki.factories import PageFactory, SpaceFactory

HOSTILE_KEY = 'K,"Q"?#/& xÜ'
HOSTILE_KEY_IN_URL = "K%2C%22Q%22%3F%23%2F%26%20x%C3%9C"
PATHS = [
    pytest.param(False, id="standard"),
    pytest.param(
        True,
        id="copy",
        marks=pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL"),
    ),
]


def read_pandas(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict(orient="records")


def exported(run_job, directory_entity: str, **params: Any) -> list[dict[str, Any]]:
    job, directory = run_job(**params)
    assert job.status == "COMPLETED", job.errors
    (path,) = directory.glob(f"{directory_entity}_job*.csv")
    return read_pandas(path)


@pytest.fixture
def site(nasty_site) -> dict[str, Any]:
    hostile = SpaceFactory(key=HOSTILE_KEY, name="Hostile", updated=FROM_DATE)
    hostile.homepage = PageFactory(space=hostile, title="home", labels=[], updated=FROM_DATE)
    hostile.save()
    labelled = PageFactory(space=hostile, title="labelled", labels=["a", "b c"], updated=FROM_DATE)
    return {**nasty_site, "hostile": hostile, "labelled": labelled}


@pytest.mark.parametrize("copy", PATHS)
@pytest.mark.parametrize("version", [1, 2])
def test_space_urls_are_percent_encoded_and_decode_to_the_key(site, run_job, settings, copy, version):
    settings.DATAPIPELINE_PG_COPY = copy
    rows = {r["space_key"]: r for r in exported(run_job, "spaces", schema_version=version)}
    base = django_settings.INSTANCE_URL
    hostile = rows[HOSTILE_KEY]
    assert hostile["space_url"] == f"{base}/display/{HOSTILE_KEY_IN_URL}"
    assert unquote(hostile["space_url"].rsplit("/", 1)[1]) == HOSTILE_KEY
    assert hostile["homepage_url"] == f"{base}/pages/viewpage.action?pageId={site['hostile'].homepage_id}"
    # Keys that need no encoding are written as they always were.
    assert rows["ENG"]["space_url"] == f"{base}/display/ENG"
    assert rows["~alice"]["space_url"] == f"{base}/display/~alice"


@pytest.mark.parametrize("copy", PATHS)
@pytest.mark.parametrize("version", [1, 2])
def test_an_empty_collection_is_an_empty_cell(site, run_job, settings, copy, version):
    settings.DATAPIPELINE_PG_COPY = copy
    rows = {int(r["page_id"]): r for r in exported(run_job, "pages", schema_version=version)}
    assert rows[site["hostile"].homepage_id]["labels"] == ""
    assert rows[site["labelled"].pk]["labels"] == '["a","b c"]'
    page_url = rows[site["labelled"].pk]["page_url"]
    assert page_url == f"{django_settings.INSTANCE_URL}/pages/viewpage.action?pageId={site['labelled'].pk}"
