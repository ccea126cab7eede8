"""End to end in headless Chromium: the Data pipeline screen against a real server and qcluster.

Log in, start an export and watch it reach COMPLETED without reloading, open View details,
start a slow export on a larger site and cancel it through the confirmation page, then edit
the opt-out list and the schedule. Screenshots go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from datapipeline.properties import get_property
from exports.configuration import property_set
from exports.models import ExportJob, JobStatus
from exports.schedules import schedule_get
from exports.tokens import token_authenticate
from optout.services import optout_list
from wiki.models import AnalyticsEvent, Comment, Content, Space

from .conftest import make_site
from .live import CHROMIUM, CHROMIUM_ARGS, ROOT, LiveStack

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ROOT / "artifacts"
PASSWORD = "e2e-Secret-pw-1"
WAIT_MS = 90_000


@pytest.fixture
def stack(on_postgres, shared_home, tmp_path):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: a qcluster and a web server sharing SQLite with the test run lock it")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)")
    live = LiveStack(workdir=tmp_path, shared_home=shared_home)
    try:
        live.start()
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser_page(stack, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are plain sync calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def status_of(page, job_id: int) -> str:
    return page.inner_text(f'#dp-jobs tr[data-job-id="{job_id}"] [data-field="status"]')


def wait_for_progress_status(page, status: str) -> None:
    """Wait until the live progress panel (updated by progress.js, no reload) shows ``status``."""
    page.wait_for_function(
        "status => document.querySelector('#dp-progress .dp-progress-summary [data-field=status]')"
        ".textContent === status",
        arg=status,
        timeout=WAIT_MS,
    )


def start_export(page) -> ExportJob:
    """Press Start export; return the job the success message names."""
    page.click("#dp-start-form input[type=submit]")
    message = page.wait_for_selector("ul.messagelist li.success").inner_text()
    found = re.fullmatch(r"Export (\d+) started\.", message.strip())
    assert found, message
    return ExportJob.objects.get(pk=int(found.group(1)))


def test_data_pipeline_screen_end_to_end(stack, browser_page, request, tmp_path):
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    make_site(spaces=2, pages_per_space=3, prefix="SM")
    property_set(name="plugin.data.pipeline.minimum.usable.disk.space.after.export", value="-1")
    # Small batches and a strong throttle: the first export takes a few seconds, so progress is visible.
    property_set(name="plugin.data.pipeline.export.batch.size", value="1")
    property_set(name="plugin.data.pipeline.throttle.ratio", value="20")

    try:
        # Log in and find the entry on the admin index.
        page.goto(f"{stack.base_url}/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{stack.base_url}/admin/")
        page.get_by_role("link", name="Export jobs").click()
        page.wait_for_url(re.compile(r".*/admin/exports/exportjob/$"))
        assert page.inner_text("h1") == "Data pipeline"
        # The admin's own styles and our script are served with DEBUG off: hashed, compressed, cacheable.
        assert page.evaluate("getComputedStyle(document.querySelector('#header')).display") == "flex"
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != '"Times New Roman"'
        for link in ("link[href*='admin/css/base.']", "script[src*='datapipeline/progress.']"):
            url = page.get_attribute(link, "href" if link.startswith("link") else "src")
            assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", url), url
            answer = page.request.get(f"{stack.base_url}{url}", headers={"Accept-Encoding": "gzip"})
            assert answer.status == 200, url
            assert answer.headers["content-type"].startswith("text/css" if url.endswith(".css") else "text/javascript")
            assert answer.headers["content-encoding"] == "gzip"
            assert "immutable" in answer.headers["cache-control"]

        # A custom export path, set on the screen: the qcluster writes there.
        custom_root = tmp_path / "custom-exports"
        page.click("nav.dp-sections >> text=Export path")
        page.fill("#id_path", str(custom_root))
        page.click("input[name=set]")
        page.wait_for_selector(f"text=Exports now go to {custom_root}.")
        page.click("nav.dp-sections >> text=Exports")

        # Start an export and watch it complete without a reload.
        page.select_option("#id_schema_version", "2")
        first = start_export(page)
        page.evaluate("window.__sameDocument = true")
        # The page was drawn while the export ran; what follows arrives through progress.js.
        assert page.inner_text("#dp-progress .dp-progress-summary [data-field=status]") == "STARTED"
        wait_for_progress_status(page, "COMPLETED")
        assert page.evaluate("window.__sameDocument") is True  # updated in place, not reloaded
        assert page.inner_text('#dp-progress tr[data-entity="pages"] [data-field="rows"]') == "6"
        assert page.inner_text('#dp-progress tr[data-entity="comments"] [data-field="state"]') == "done"
        assert status_of(page, first.pk) == "COMPLETED"
        assert page.locator(f'#dp-jobs tr[data-job-id="{first.pk}"] .dp-cancel').count() == 0
        assert "e2e-node" in page.inner_text(f'#dp-jobs tr[data-job-id="{first.pk}"]')
        page.screenshot(path=str(ARTIFACTS / "admin-data-pipeline.png"), full_page=True)

        # View details: the job's JSON and the files from the manifest.
        page.click(f'#dp-jobs tr[data-job-id="{first.pk}"] a.dp-details')
        page.wait_for_selector("#dp-files")
        assert page.locator("#dp-files tbody tr").count() == 5
        pages_row = page.locator("#dp-files tbody tr", has_text="pages_job").inner_text()
        assert "\t6\t" in pages_row
        json_text = page.inner_text("pre.dp-json")
        assert '"status": "COMPLETED"' in json_text and f'"jobId": {first.pk}' in json_text
        assert f"{custom_root}/{first.pk}" in page.inner_text("#dp-files-title + p")
        assert len(list((custom_root / str(first.pk)).glob("*.csv"))) == 5
        page.screenshot(path=str(ARTIFACTS / "admin-view-details.png"), full_page=True)

        # A larger site, exported slowly: cancel it through the confirmation page.
        make_site(spaces=4, pages_per_space=30, prefix="BIG")
        full_export_rows = sum(
            model.objects.count() for model in (get_user_model(), Space, Content, Comment, AnalyticsEvent)
        )
        page.click("nav.dp-sections >> text=Configuration properties")
        page.fill('[name="plugin.data.pipeline.throttle.ratio"]', "100")
        page.click("input[name=save]")
        page.wait_for_selector("text=Saved: plugin.data.pipeline.throttle.ratio = '100'.")
        assert get_property("plugin.data.pipeline.throttle.ratio") == 100
        page.click("nav.dp-sections >> text=Exports")
        second = start_export(page)
        assert second.pk != first.pk
        # Wait until the worker has written rows, so the cancel stops a running export.
        page.wait_for_function(
            "Number(document.querySelector('#dp-progress .dp-progress-summary [data-field=writtenRows]')"
            ".textContent) > 0",
            timeout=WAIT_MS,
        )
        page.click(f'#dp-jobs tr[data-job-id="{second.pk}"] a.dp-cancel')
        page.wait_for_selector(f"text=Cancel export {second.pk}")
        page.screenshot(path=str(ARTIFACTS / "admin-cancel-confirmation.png"), full_page=True)
        second.refresh_from_db()
        assert second.status == JobStatus.STARTED  # the confirmation page changed nothing
        page.click(f"input[value='Yes, cancel export {second.pk}']")
        page.wait_for_selector(f"text=Cancellation of export {second.pk} requested")
        wait_for_progress_status(page, "CANCELLED")
        assert status_of(page, second.pk) == "CANCELLED"
        second.refresh_from_db()
        assert second.status == JobStatus.CANCELLED
        assert second.statistics["writtenRows"] < full_export_rows  # stopped early
        manifest = json.loads((custom_root / str(second.pk) / "manifest.json").read_text())
        assert manifest["job"]["status"] == "CANCELLED" and len(manifest["files"]) < 5

        # The opt-out list: add two spaces by key, see their names, remove one.
        page.click("nav.dp-sections >> text=Opt-out list")
        page.fill("#id_keys", "SM1, BIG2")
        page.click("input[name=add]")
        page.wait_for_selector("text=Added to the opt-out list: BIG2, SM1.")
        assert "Space SM number 1" in page.inner_text("#dp-optout")
        assert "Space BIG number 2" in page.inner_text("#dp-optout")
        page.check('#dp-optout tr[data-key="SM1"] input[type=checkbox]')
        page.click("input[name=remove]")
        page.wait_for_selector("text=Removed from the opt-out list: SM1.")
        assert optout_list() == ["BIG2"]
        page.screenshot(path=str(ARTIFACTS / "admin-opt-out.png"), full_page=True)

        # The schedule: two days at 03:30, every 2 weeks, the last 90 days.
        page.click("nav.dp-sections >> text=Schedule")
        page.check("input[name=days][value=mon]")
        page.check("input[name=days][value=thu]")
        page.fill("#id_repeat_interval_weeks", "2")
        page.fill("#id_time", "03:30")
        page.check("input[name=window][value=days]")
        page.fill("#id_rolling_window_days", "90")
        page.click("input[name=save]")
        page.wait_for_selector("text=The export schedule was saved.")
        summary = page.inner_text("#dp-schedule-summary")
        assert "mon, thu at 03:30:00, every 2 weeks" in summary and "the last 90 days" in summary
        assert "Next run:" in summary
        page.screenshot(path=str(ARTIFACTS / "admin-schedule.png"), full_page=True)
        schedule = schedule_get()
        assert (schedule.days, schedule.repeat_interval_weeks, schedule.rolling_window_days) == (["mon", "thu"], 2, 90)

        # A personal access token: shown once, then revoked through a confirmation page.
        page.click("nav.dp-sections >> text=Access tokens")
        page.fill("#id_name", "airflow")
        page.click("input[value='Create token']")
        raw = page.inner_text("#dp-new-token")
        assert token_authenticate(raw) is not None
        page.click("nav.dp-sections >> text=Access tokens")
        assert raw not in page.content()
        page.click('#dp-tokens a:has-text("Revoke")')
        page.click("input[value='Yes, revoke it']")
        page.wait_for_selector("text=was revoked; requests using it now get 401.")
        assert token_authenticate(raw) is None
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"admin-e2e-failure-{request.node.name}.png"), full_page=True)
        print(stack.logs())
        raise
    finally:
        # Under Playwright's sync API the ORM runs in another context, hence on a connection of
        # its own: close it, or the test database cannot be dropped at the end of the run.
        connections.close_all()
