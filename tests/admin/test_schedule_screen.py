"""The Schedule page: create, edit and delete the one schedule through exports.schedules."""

from __future__ import annotations

from datetime import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from datapipeline.errors import InvalidParameter
from exports import schedules
from exports.models import AuditEntry, ExportSchedule

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def url():
    return reverse("admin:datapipeline_schedule")


def form(**overrides) -> dict:
    data = {
        "enabled": "on",
        "days": ["mon", "thu"],
        "repeat_interval_weeks": "2",
        "time": "03:30",
        "window": "months",
        "rolling_window_months": "6",
        "rolling_window_days": "365",
        "from_date": "",
        "schema_version": "",
        "save": "1",
    }
    data.update(overrides)
    return data


def test_no_schedule_yet(admin_client, url):
    body = admin_client.get(url).content.decode()
    assert "No schedule: exports run only when started." in body
    assert "Create a schedule" in body and "Delete the schedule" not in body


def test_save_a_schedule_and_see_it(admin_client, admin_user, url):
    response = admin_client.post(url, form())
    assert response.status_code == 302
    schedule = schedules.schedule_get()
    assert schedule.days == ["mon", "thu"] and schedule.repeat_interval_weeks == 2
    assert schedule.time == time(3, 30) and schedule.rolling_window_months == 6 and schedule.enabled
    next_run = schedules.schedule_next_run(schedule)
    assert texts(response)[0].startswith("The export schedule was saved. Next run: ")
    assert f"{next_run:%Y-%m-%d %H:%M}" in texts(response)[0]
    assert AuditEntry.objects.filter(action="schedule.set", via="admin", user=admin_user).exists()

    body = admin_client.get(url).content.decode()
    assert "Enabled: mon, thu at 03:30:00, every 2 weeks" in body and "the last 6 months" in body
    assert "&quot;repeatIntervalInWeeks&quot;: 2" in body and "nextRunTime" in body
    # The form shows what is stored.
    assert 'name="days" value="mon" id="id_days_0" checked' in body
    assert 'name="time" value="03:30:00"' in body


def test_edit_to_an_absolute_date_and_a_schema_version(admin_client, url):
    admin_client.post(url, form())
    response = admin_client.post(
        url, form(window="absolute", from_date="2026-01-01T00:00:00Z", schema_version="1", days=["sun"], enabled="")
    )
    assert response.status_code == 302
    schedule = schedules.schedule_get()
    assert ExportSchedule.objects.count() == 1
    assert schedule.days == ["sun"] and schedule.schema_version == 1 and not schedule.enabled
    assert schedule.from_date.isoformat() == "2026-01-01T00:00:00+00:00" and schedule.rolling_window_months is None
    body = admin_client.get(url).content.decode()
    assert "Disabled: sun" in body and 'value="2026-01-01T00:00:00Z"' in body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"days": []}, "days"),
        ({"repeat_interval_weeks": "53"}, "repeat_interval_weeks"),
        ({"repeat_interval_weeks": "often"}, "repeat_interval_weeks"),
        ({"time": "25:00"}, "time"),
        ({"window": "days", "rolling_window_days": "0"}, "window"),
        ({"window": "absolute", "from_date": "yesterday"}, "from_date"),
        ({"schema_version": "9"}, "schema_version"),
    ],
)
def test_bad_input_gives_the_services_message_on_the_field(admin_client, url, overrides, field):
    data = form(**overrides)
    kwargs = {
        "days": data["days"],
        "repeat_interval_weeks": int(data["repeat_interval_weeks"])
        if data["repeat_interval_weeks"].isdigit()
        else data["repeat_interval_weeks"],
        "time": data["time"],  # the service reads HH:MM itself, as for every interface
        "from_date": data["from_date"] if data["window"] == "absolute" else None,
        "rolling_window_days": int(data["rolling_window_days"]) if data["window"] == "days" else None,
        "rolling_window_months": int(data["rolling_window_months"]) if data["window"] == "months" else None,
        "schema_version": int(data["schema_version"]) if data["schema_version"] else None,
    }
    with pytest.raises(InvalidParameter) as excinfo:
        schedules.schedule_set(**kwargs)
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert texts(response)[0] == excinfo.value.message
    body = response.content.decode()
    row = body[body.index(f"field-{field}") :].split('<div class="flex-container')[0]
    assert 'class="errorlist' in row
    assert ExportSchedule.objects.count() == 0


def test_delete_the_schedule(admin_client, admin_user, url):
    admin_client.post(url, form())
    response = admin_client.post(url, {"delete": "1"})
    assert response.status_code == 302
    assert schedules.schedule_get() is None
    assert texts(response)[-1] == "The export schedule was deleted; exports run only when started."
