"""THE property of incremental exports: full export A, upsert by key the rows of incremental B, delete
B's deleted keys: the result equals a full export C taken right after B, for every dataset, over many
rounds of random site changes, on SQLite and PostgreSQL, through the COPY and the standard paths."""

from __future__ import annotations

import pytest

from exports.models import ExportJob
from tests.incremental.sitegen import KEYS, SiteChanges, apply_increment, full_state, manifest


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("pg_copy", [True, False], ids=["copy", "python"])
@pytest.mark.django_db
def test_upsert_then_delete_gives_the_full_export(run_job, settings, on_postgres, seed, pg_copy):
    if not on_postgres and not pg_copy:
        pytest.skip("SQLite has one export path")
    settings.DATAPIPELINE_PG_COPY = pg_copy
    site = SiteChanges(seed)
    site.build()
    base, directory = run_job()
    state = full_state(directory)
    smaller = 0
    for round_ in range(8):
        done = site.round(site.rnd.randint(1, 12))
        job, directory = run_job(mode="incremental")
        assert job.mode == "INCREMENTAL" and job.since_job_id == base.pk
        assert manifest(directory)["baseJobId"] == base.pk and manifest(directory)["mode"] == "INCREMENTAL"
        apply_increment(state, directory)
        full, full_dir = run_job()
        expected = full_state(full_dir)
        for entity in KEYS:
            assert state[entity] == expected[entity], (round_, entity, done)
        smaller += sum(len(v) for v in expected.values()) > job.statistics["writtenRows"]
        ExportJob.objects.filter(pk=full.pk).delete()  # so that the next incremental's base is B: a chain
        base = job
    assert smaller  # the increments are not full exports in disguise
