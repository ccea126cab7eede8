"""Full-key reconciliation: rows removed around the change log (as a TRUNCATE or disabled triggers would)
are found by comparing the base chain's files with the site, and reported as deleted; guarded by a share."""

from __future__ import annotations

import shutil

import pytest

from datapipeline.models import ChangeLog
from tests.incremental.sitegen import SiteChanges, apply_increment, files_of, full_state, read_csv
from wiki.models import Comment


def remove_around_the_triggers(count: int) -> set[str]:
    """Delete ``count`` comments and the change log's record of it: the log never saw them go."""
    ids = list(Comment.objects.order_by("pk").values_list("pk", flat=True)[:count])
    Comment.objects.filter(pk__in=ids).delete()
    ChangeLog.objects.filter(dataset="comments", row_pk__in=ids).delete()
    return {str(i) for i in ids}


def deleted(directory, entity: str = "comments") -> set[str]:
    return {row[0] for row in read_csv(files_of(directory)[(entity, "deletedKeys")])[1]}


@pytest.fixture
def site(db):
    site = SiteChanges(11)
    site.build()
    return site


def test_reconciliation_reports_keys_gone_around_the_change_log(site, run_job):
    _full, full_dir = run_job()
    state = full_state(full_dir)
    site.round(6)
    _first, first_dir = run_job(mode="INCREMENTAL")
    apply_increment(state, first_dir)
    gone = remove_around_the_triggers(1)
    site.round(4)
    plain, plain_dir = run_job(mode="INCREMENTAL")  # not asked, not due: the change log cannot know
    assert not plain.reconcile and not gone & deleted(plain_dir)
    apply_increment(state, plain_dir)
    site.round(4)
    job, job_dir = run_job(mode="INCREMENTAL", reconcile=True)
    assert job.reconcile and gone <= deleted(job_dir)
    assert job.statistics["reconciled"]["comments"]["missing"] == 1
    assert job.statistics["reconciled"]["comments"]["keys"] == len(state["comments"])
    assert all(v["missing"] == 0 for k, v in job.statistics["reconciled"].items() if k != "comments")
    # The chain plus this job now gives, row for row, what a full export holds.
    apply_increment(state, job_dir)
    _, check_dir = run_job()
    assert state == full_state(check_dir)


def test_more_than_the_share_gone_fails_without_force_and_warns_with_it(site, run_job, settings):
    from exports.jobs import job_run
    from exports.services import export_start
    from tests.incremental.sitegen import FAR_PAST

    run_job()
    total = Comment.objects.count()
    gone = remove_around_the_triggers(3)  # 3 of 20 comments: 15% > 5%
    job = job_run(export_start(from_date=FAR_PAST, mode="INCREMENTAL", reconcile=True, enqueue=False).pk)
    assert job.status == "FAILED"
    assert job.errors[-1]["key"] == "export.incremental.reconcile.refused"
    assert f"3 of the {total:,} comments keys" in job.errors[-1]["message"]
    assert "forceExport" in job.errors[-1]["message"]
    job, job_dir = run_job(mode="INCREMENTAL", reconcile=True, force_export=True)
    assert gone <= deleted(job_dir)
    assert [w["key"] for w in job.warnings] == ["export.incremental.reconcile.forced"]
    # With a larger share allowed, no force is needed.
    settings.DATAPIPELINE_PROPERTIES["plugin.data.pipeline.incremental.reconcile.max.deleted.share"] = "0.5"
    more = remove_around_the_triggers(3)
    job, job_dir = run_job(mode="INCREMENTAL", reconcile=True)
    assert more <= deleted(job_dir) and not job.warnings


def test_every_nth_incremental_reconciles(site, run_job, settings):
    settings.DATAPIPELINE_PROPERTIES["plugin.data.pipeline.incremental.reconcile.every"] = "2"
    run_job()
    flags = []
    for _ in range(5):
        site.round(2)
        job, _ = run_job(mode="INCREMENTAL")
        flags.append(job.reconcile)
    assert flags == [False, True, False, True, False]
    job, _ = run_job(mode="INCREMENTAL", reconcile=True)  # asked: counts as the chain's last reconciliation
    assert job.reconcile
    job, _ = run_job(mode="INCREMENTAL")
    assert not job.reconcile


def test_a_chain_whose_files_are_gone_is_not_reconciled_and_says_so(site, run_job):
    _, full_dir = run_job()
    shutil.rmtree(full_dir)
    remove_around_the_triggers(1)
    job, _job_dir = run_job(mode="INCREMENTAL", reconcile=True)
    assert [w["key"] for w in job.warnings] == ["export.incremental.reconcile.skipped"]
    assert "reconciled" not in job.statistics
