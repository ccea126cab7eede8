"""Between batches: throttle pauses, shutdown checks and the disk guard, on a fake clock."""

from __future__ import annotations

from functools import partial

import pytest

from datapipeline.control import DISK_CHECK_INTERVAL, DiskSpaceLow, ExportControl, WorkerShutdown
from datapipeline.throttle import MAX_PAUSE
from exports.configuration import property_set
from exports.jobs import job_save_progress
from exports.services import export_start

pytestmark = pytest.mark.django_db


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_control(tmp_path, *, ratio: float, minimum_gb: float = -1, stop_check=None) -> tuple[ExportControl, FakeTime]:
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    job = export_start(enqueue=False)
    fake = FakeTime()
    control = ExportControl(
        save_progress=partial(job_save_progress, job.pk),
        export_dir=tmp_path,
        throttle_ratio=ratio,
        minimum_free_gb=minimum_gb,
        statistics={"writtenRows": 0, "entities": {}},
        stop_check=stop_check,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    control.start_entity("pages", 100)
    return control, fake


def work(fake: FakeTime, control: ExportControl, seconds: float) -> None:
    fake.now += seconds
    control.after_batch("pages", 10)


def test_the_throttle_pauses_ratio_times_the_work(tmp_path):
    control, fake = make_control(tmp_path, ratio=1.0)
    work(fake, control, 0.3)
    assert sum(fake.sleeps) == pytest.approx(0.3)


def test_throttle_off_means_no_pause(tmp_path):
    control, fake = make_control(tmp_path, ratio=0)
    work(fake, control, 0.3)
    assert fake.sleeps == []


def test_a_long_batch_pauses_at_most_the_cap_in_short_slices(tmp_path):
    control, fake = make_control(tmp_path, ratio=4.0)
    work(fake, control, 0.9)
    assert sum(fake.sleeps) == pytest.approx(MAX_PAUSE)
    assert max(fake.sleeps) <= 0.25


def test_a_shutdown_during_a_pause_stops_the_export_within_a_slice(tmp_path):
    asked = []

    def stop_check():
        asked.append(1)
        return "the qcluster it ran in was asked to stop" if len(asked) >= 2 else None

    control, fake = make_control(tmp_path, ratio=4.0, stop_check=stop_check)
    with pytest.raises(WorkerShutdown, match="asked to stop"):
        work(fake, control, 0.9)
    assert sum(fake.sleeps) == pytest.approx(0.25)


def test_the_disk_guard_runs_every_few_seconds_and_names_path_and_limit(tmp_path):
    control, fake = make_control(tmp_path, ratio=0, minimum_gb=1_000_000)
    work(fake, control, DISK_CHECK_INTERVAL / 4)  # too soon for another check
    with pytest.raises(DiskSpaceLow) as raised:
        work(fake, control, DISK_CHECK_INTERVAL)
    assert str(tmp_path) in str(raised.value) and "the minimum is 1000000 GB" in str(raised.value)


def _niceness_in_a_thread(tmp_path, ratio: float) -> tuple[int | None, int]:
    """Build an ExportControl in a fresh thread; (that thread's nice value after, this thread's)."""
    import os
    import threading

    seen: list[int | None] = []

    def run() -> None:
        ExportControl(
            save_progress=None,
            export_dir=tmp_path,
            throttle_ratio=ratio,
            minimum_free_gb=-1,
            statistics={},
        )
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen[0], os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_throttled_export_thread_yields_the_cpu_to_the_site(tmp_path, settings):
    import os
    import threading

    settings.DATAPIPELINE_EXPORT_NICENESS = 19
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert before < 19  # tests/conftest.py keeps in-process exports from lowering the test threads
    exporting, here = _niceness_in_a_thread(tmp_path, ratio=1.0)
    assert exporting == 19
    assert here == before  # only the export's thread, not the process


def test_the_niceness_setting_at_0_leaves_the_priority(tmp_path, settings):
    import os
    import threading

    settings.DATAPIPELINE_EXPORT_NICENESS = 0
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    exporting, _ = _niceness_in_a_thread(tmp_path, ratio=1.0)
    assert exporting == before


def test_an_unthrottled_export_keeps_its_priority(tmp_path, settings):
    import os
    import threading

    settings.DATAPIPELINE_EXPORT_NICENESS = 19
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    exporting, _ = _niceness_in_a_thread(tmp_path, ratio=0)
    assert exporting == before  # threads start with their creator's nice value
