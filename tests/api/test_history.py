"""GET history: jobs newest first, paged."""

from __future__ import annotations

import pytest

from exports.models import JobStatus

from .conftest import BASE, assert_error
from .test_export import make_job

pytestmark = pytest.mark.django_db


def test_empty_history(api):
    response = api.get(f"{BASE}history")
    assert response.status_code == 200
    assert response.json() == {
        "offset": 0,
        "limit": 100,
        "size": 0,
        "lastPage": True,
        "nextPageRequest": None,
        "values": [],
    }


def test_pages_newest_first(api):
    jobs = [make_job(JobStatus.COMPLETED) for _ in range(5)]
    first = api.get(f"{BASE}history?limit=2").json()
    assert (first["offset"], first["limit"], first["size"], first["lastPage"]) == (0, 2, 2, False)
    assert first["nextPageRequest"] == {"offset": 2, "limit": 2}
    assert [j["jobId"] for j in first["values"]] == [jobs[4].pk, jobs[3].pk]
    assert first["values"][0]["status"] == "COMPLETED"
    second = api.get(f"{BASE}history?offset=2&limit=2").json()
    assert [j["jobId"] for j in second["values"]] == [jobs[2].pk, jobs[1].pk]
    assert second["lastPage"] is False
    last = api.get(f"{BASE}history?offset=4&limit=2").json()
    assert [j["jobId"] for j in last["values"]] == [jobs[0].pk]
    assert (last["size"], last["lastPage"], last["nextPageRequest"]) == (1, True, None)
    exact = api.get(f"{BASE}history?offset=0&limit=5").json()
    assert (exact["size"], exact["lastPage"], exact["nextPageRequest"]) == (5, True, None)
    beyond = api.get(f"{BASE}history?offset=50&limit=1000").json()
    assert (beyond["size"], beyond["lastPage"], beyond["values"]) == (0, True, [])


@pytest.mark.parametrize(
    ("query", "contains"),
    [
        ("limit=1001", "limit: Ensure this value is less than or equal to 1000."),
        ("limit=0", "limit: Ensure this value is greater than or equal to 1."),
        ("offset=-1", "offset: Ensure this value is greater than or equal to 0."),
        ("offset=x", "offset: A valid integer is required."),
        ("offset=", "offset: A valid integer is required."),  # given empty: refused, not the default
        ("limit=", "limit: A valid integer is required."),
        ("page=2", "page"),
    ],
)
def test_bad_paging_gets_400(api, query, contains):
    assert_error(api.get(f"{BASE}history?{query}"), 400, "request.invalid", contains=contains)
