"""The runner streams: keyset batches by primary key, a fixed number of queries per batch, never per row."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.engine.sitedata import FROM_DATE
from wiki.models import Comment, Content, Space


def add_rows(space: Space, count: int) -> None:
    pages = Content.objects.bulk_create(
        [Content(space=space, title=f"p{i}", body="b", updated=FROM_DATE) for i in range(count)]
    )
    Comment.objects.bulk_create([Comment(content=p, space=space, body="c", updated=FROM_DATE) for p in pages])


def export_queries(run_job) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        job, _directory = run_job()
    assert job.status == "COMPLETED"
    return [q["sql"] for q in captured.captured_queries]


def test_queries_grow_with_batches_not_rows(nasty_site, run_job, settings):
    settings.DATAPIPELINE_PG_COPY = False  # the standard path (PostgreSQL's COPY path: tests/engine/test_pgcopy.py)
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.export.batch.size": "50"}
    space = nasty_site["spaces"][1]
    add_rows(space, 10)
    run_job()  # the first export gives the profile-less user its key (a one-off write); measure from here
    small = export_queries(run_job)
    add_rows(space, 30)  # 40 more rows per entity, still one batch of 50
    same = export_queries(run_job)
    assert len(same) == len(small)
    add_rows(space, 30)  # now two batches for pages and comments
    bigger = export_queries(run_job)
    assert len(bigger) - len(small) <= 2 * 2  # one more SELECT (and its progress flush at most) per entity


def test_batches_are_keyset_pages_without_offset(nasty_site, run_job, settings):
    settings.DATAPIPELINE_PG_COPY = False
    settings.DATAPIPELINE_PROPERTIES = {"plugin.data.pipeline.export.batch.size": "2"}
    add_rows(nasty_site["spaces"][1], 5)
    queries = export_queries(run_job)
    page_selects = [q for q in queries if 'FROM "wiki_content"' in q and "LIMIT 2" in q]
    assert len(page_selects) >= 4
    assert all("OFFSET" not in q for q in page_selects)
    # ORDER BY the primary key (Django writes it as position 1: the first selected column is the pk).
    assert all(q.startswith('SELECT "wiki_content"."id" AS "pk"') and "ORDER BY 1 ASC" in q for q in page_selects)
    assert sum('"wiki_content"."id" >' in q for q in page_selects) == len(page_selects) - 1
