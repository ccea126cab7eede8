"""The Data pipeline's settings pages: opt-out list, export path, configuration properties, tokens."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from datapipeline.models import ConfigProperty, ExportPath, PersonalAccessToken
from datapipeline.paths import default_root, export_root
from datapipeline.properties import PROPERTIES, get_property
from exports.configuration import property_set
from exports.models import AuditEntry
from exports.tokens import hash_token, token_authenticate, token_create
from optout.services import optout_add, optout_list

from .conftest import make_site

pytestmark = pytest.mark.django_db


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Opt-out list ----------------------------------------------------------------------------


@pytest.fixture
def optout_url():
    return reverse("admin:datapipeline_optout")


def test_optout_list_shows_keys_with_space_names(admin_client, optout_url):
    make_site(spaces=3, pages_per_space=0)
    optout_add(keys=["SP2"])
    body = admin_client.get(optout_url).content.decode()
    assert "SP2" in body and "Space SP number 2" in body
    assert 'value="SP2"' in body and "Space SP number 1" not in body
    assert "1 of at most 1000 spaces" in body


def test_add_keys_separated_by_commas_and_spaces(admin_client, admin_user, optout_url):
    make_site(spaces=3, pages_per_space=0)
    response = admin_client.post(optout_url, {"keys": "SP1, SP3  SP1"})
    assert response.status_code == 302
    assert optout_list() == ["SP1", "SP3"]
    assert texts(response) == ["Added to the opt-out list: SP1, SP3."]
    audit = AuditEntry.objects.get(action="optout.add")
    assert (audit.user, audit.via, audit.details["added"]) == (admin_user, "admin", ["SP1", "SP3"])
    page = admin_client.get(optout_url).content.decode()
    assert "Space SP number 1" in page and "Space SP number 3" in page


def test_unknown_key_is_refused_and_nothing_is_added(admin_client, optout_url):
    make_site(spaces=1, pages_per_space=0)
    response = admin_client.post(optout_url, {"keys": "SP1 NOPE"})
    assert response.status_code == 400
    assert optout_list() == []
    messages = texts(response)
    assert messages[0].startswith("No space with key NOPE; nothing was added")
    assert "No space with key 'NOPE'." in messages


def test_unknown_key_is_skipped_when_asked(admin_client, optout_url):
    make_site(spaces=1, pages_per_space=0)
    response = admin_client.post(optout_url, {"keys": "SP1 NOPE", "continue_if_not_found": "on"})
    assert response.status_code == 302
    assert optout_list() == ["SP1"]
    assert texts(response) == ["Added to the opt-out list: SP1.", "Skipped, no such space: NOPE."]


def test_over_the_limit_is_refused(admin_client, optout_url):
    make_site(spaces=3, pages_per_space=0)
    property_set(name="plugin.data.pipeline.optout.count.limit", value="2")
    response = admin_client.post(optout_url, {"keys": "SP1 SP2 SP3"})
    assert response.status_code == 400
    assert optout_list() == []
    assert "over the limit of 2" in texts(response)[0]


def test_empty_add_form_is_an_error(admin_client, optout_url):
    response = admin_client.post(optout_url, {"keys": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_remove_selected_spaces(admin_client, optout_url):
    make_site(spaces=3, pages_per_space=0)
    optout_add(keys=["SP1", "SP2", "SP3"])
    response = admin_client.post(optout_url, {"remove": "1", "remove_keys": ["SP1", "SP3"]})
    assert response.status_code == 302
    assert optout_list() == ["SP2"]
    assert texts(response) == ["Removed from the opt-out list: SP1, SP3."]
    assert AuditEntry.objects.filter(action="optout.remove", via="admin").count() == 1


def test_remove_with_nothing_selected_or_a_key_not_on_the_list(admin_client, optout_url):
    make_site(spaces=2, pages_per_space=0)
    optout_add(keys=["SP1"])
    response = admin_client.post(optout_url, {"remove": "1"})
    assert texts(response) == ["Select the spaces to remove from the opt-out list."]
    response = admin_client.post(optout_url, {"remove": "1", "remove_keys": ["SP2"]})
    assert texts(response)[0] == "Not on the opt-out list: SP2; nothing was removed."
    assert optout_list() == ["SP1"]


# --- Export path -----------------------------------------------------------------------------


@pytest.fixture
def path_url():
    return reverse("admin:datapipeline_export_path")


def test_export_path_page_shows_current_and_default(admin_client, path_url):
    body = admin_client.get(path_url).content.decode()
    assert str(default_root()) in body and "(the default)" in body


def test_set_and_reset_the_export_path(admin_client, admin_user, path_url, tmp_path):
    target = tmp_path / "exports" / "new"
    response = admin_client.post(path_url, {"path": str(target)})
    assert response.status_code == 302
    assert texts(response) == [f"Exports now go to {target}."]
    assert export_root() == (target, True)
    assert AuditEntry.objects.filter(action="export_path.set", via="admin", user=admin_user).count() == 1
    body = admin_client.get(path_url).content.decode()
    assert f'<code id="dp-root">{target}</code> (custom)' in body

    response = admin_client.post(path_url, {"reset": "1"})
    assert response.status_code == 302
    assert export_root() == (default_root(), False)
    assert texts(response) == [f"The export path was reset to the default, {default_root()}."]
    assert AuditEntry.objects.filter(action="export_path.reset", via="admin").count() == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("relative/dir", "The export path must be absolute: 'relative/dir'."),
        ("FILE", "is a file, not a directory."),
        ("/etc", "The export path /etc is refused: it is inside the operating system's directory /etc."),
        ("/var/lib/postgresql", "it is inside the operating system's directory /var/lib."),
        ("LINK", "it contains a symbolic link at"),
    ],
)
def test_bad_export_path_is_refused_with_the_reason(admin_client, path_url, tmp_path, value, expected):
    if value == "FILE":
        (tmp_path / "afile").write_text("x")
        value = str(tmp_path / "afile")
    if value == "LINK":
        (tmp_path / "link").symlink_to(tmp_path / "missing")
        value = str(tmp_path / "link" / "exports")
    response = admin_client.post(path_url, {"path": value})
    assert response.status_code == 400
    assert expected in texts(response)[0]
    assert expected.replace("'", "&#x27;") in response.content.decode()
    assert ExportPath.objects.count() == 0


# --- Configuration properties ----------------------------------------------------------------


@pytest.fixture
def properties_url():
    return reverse("admin:datapipeline_properties")


def test_every_property_is_listed_with_description_value_and_source(admin_client, properties_url, monkeypatch):
    monkeypatch.setenv("PLUGIN_DATA_PIPELINE_OPTOUT_COUNT_LIMIT", "77")
    property_set(name="plugin.data.pipeline.export.batch.size", value="250")
    body = admin_client.get(properties_url).content.decode()
    for name, prop in PROPERTIES.items():
        row = body[body.index(f'data-property="{name}"') :].split("</tr>")[0]
        assert prop.description.replace("'", "&#x27;") in row
    row = lambda name: body[body.index(f'data-property="{name}"') :].split("</tr>")[0]  # noqa: E731
    assert 'value="77"' in row("plugin.data.pipeline.optout.count.limit")
    assert '<td data-field="source">env</td>' in row("plugin.data.pipeline.optout.count.limit")
    assert 'value="250"' in row("plugin.data.pipeline.export.batch.size")
    assert '<td data-field="source">admin</td>' in row("plugin.data.pipeline.export.batch.size")
    assert 'name="reset" value="plugin.data.pipeline.export.batch.size"' in body
    assert '<td data-field="source">default</td>' in row("plugin.data.pipeline.throttle.ratio")


def current_values() -> dict[str, str]:
    from datapipeline.properties import property_values

    return {item["name"]: item["value"] for item in property_values()}


def test_save_stores_only_the_changed_properties(admin_client, admin_user, properties_url):
    data = current_values() | {"plugin.data.pipeline.throttle.ratio": "0.5", "save": "1"}
    response = admin_client.post(properties_url, data)
    assert response.status_code == 302
    assert get_property("plugin.data.pipeline.throttle.ratio") == 0.5
    assert list(ConfigProperty.objects.values_list("key", flat=True)) == ["plugin.data.pipeline.throttle.ratio"]
    assert texts(response) == ["Saved: plugin.data.pipeline.throttle.ratio = '0.5'."]
    audit = AuditEntry.objects.get(action="property.set")
    assert (audit.user, audit.via) == (admin_user, "admin")
    assert audit.details == {
        "name": "plugin.data.pipeline.throttle.ratio", "value": "0.5", "previous": "adaptive", "source": "default",
    }  # fmt: skip


def test_bad_value_is_shown_and_nothing_is_saved(admin_client, properties_url):
    data = current_values() | {
        "plugin.data.pipeline.throttle.ratio": "0.25",
        "plugin.data.pipeline.optout.count.limit": "-3",
        "plugin.data.pipeline.embedded.line.break.preserve": "maybe",
    }
    response = admin_client.post(properties_url, data)
    assert response.status_code == 400
    assert ConfigProperty.objects.count() == 0
    assert texts(response) == ["Nothing was saved: correct the values marked below."]
    body = response.content.decode()
    assert "expected a whole number of at least 0, got &#x27;-3&#x27;" in body
    assert "expected true or false, got &#x27;maybe&#x27;" in body
    assert 'value="0.25"' in body  # what was typed is kept for correction


def test_unchanged_form_saves_nothing(admin_client, properties_url):
    response = admin_client.post(properties_url, current_values())
    assert response.status_code == 302
    assert ConfigProperty.objects.count() == 0
    assert texts(response) == ["No property was changed."]


def test_reset_drops_the_admin_value(admin_client, properties_url):
    property_set(name="plugin.data.pipeline.export.batch.size", value="10")
    response = admin_client.post(properties_url, {"reset": "plugin.data.pipeline.export.batch.size"})
    assert response.status_code == 302
    assert get_property("plugin.data.pipeline.export.batch.size") == 5000
    assert texts(response) == ["plugin.data.pipeline.export.batch.size was reset; it is now '5000' (from default)."]
    assert AuditEntry.objects.filter(action="property.reset", via="admin").count() == 1


# --- Personal access tokens ------------------------------------------------------------------


@pytest.fixture
def tokens_url():
    return reverse("admin:datapipeline_tokens")


def test_create_token_shows_it_once_and_stores_only_its_hash(admin_client, admin_user, tokens_url):
    response = admin_client.post(tokens_url, {"name": "airflow", "expiry_days": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    raw = body.split('<code id="dp-new-token" class="dp-token">')[1].split("</code>")[0]
    token = PersonalAccessToken.objects.get()
    assert token.name == "airflow" and token.user == admin_user
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert token_authenticate(raw) == token
    assert 29 <= (token.expires_at - token.created).days <= 30
    # Shown once: not in the session, not in a message, not on the next page.
    assert raw not in str(dict(admin_client.session))
    assert texts(response) == []
    again = admin_client.get(tokens_url).content.decode()
    assert raw not in again and f"…{raw[-4:]}" in again


def test_token_without_expiry_and_bad_input(admin_client, tokens_url):
    response = admin_client.post(tokens_url, {"name": "cron", "expiry_days": ""})
    assert response.status_code == 200 and "It never expires." in response.content.decode()
    assert PersonalAccessToken.objects.get().expires_at is None
    response = admin_client.post(tokens_url, {"name": "", "expiry_days": "0"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "The expiry must be a whole number of days from 1 to 3650, got 0." in body
    assert PersonalAccessToken.objects.count() == 1


def test_revoke_token_through_a_confirmation_page(admin_client, admin_user, tokens_url):
    token, raw = token_create(user=admin_user, name="old script")
    url = reverse("admin:datapipeline_token_revoke", args=[token.pk])
    page = admin_client.get(url).content.decode()
    assert "Revoke token “old script”" in page and '<form method="post">' in page
    token.refresh_from_db()
    assert token.revoked_at is None
    response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"] == tokens_url
    assert token_authenticate(raw) is None
    assert texts(response) == ["Token “old script (…" + raw[-4:] + ")” was revoked; requests using it now get 401."]
    listing = admin_client.get(tokens_url).content.decode()
    assert ">revoked<" in listing and url not in listing


def test_revoke_unknown_token_is_404(admin_client):
    assert admin_client.post(reverse("admin:datapipeline_token_revoke", args=[999])).status_code == 404


def test_tokens_page_links_to_the_token_admin(admin_client, tokens_url):
    body = admin_client.get(tokens_url).content.decode()
    assert f'href="{reverse("admin:datapipeline_personalaccesstoken_changelist")}"' in body
