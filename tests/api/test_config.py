"""config/export-path and config/schema."""

from __future__ import annotations

import os

import pytest

from datapipeline.models import ExportPath
from exports.models import AuditEntry

from .conftest import ALIAS, BASE, assert_error

pytestmark = pytest.mark.django_db


def test_default_export_path(api, export_root):
    response = api.get(f"{BASE}config/export-path")
    assert response.status_code == 200
    assert response.json() == {"rootExportPath": str(export_root), "customPathSet": False}


def test_set_and_reset_a_custom_export_path(api, tmp_path, export_root, superuser):
    target = tmp_path / "custom" / "not-yet-there"
    response = api.put(f"{BASE}config/export-path", {"path": str(target)}, format="json")
    assert response.status_code == 200
    assert response.json() == {"rootExportPath": str(target), "customPathSet": True}
    assert api.get(f"{ALIAS}config/export-path").json() == {"rootExportPath": str(target), "customPathSet": True}
    # a new export goes there
    assert api.post(f"{BASE}export").json()["rootExportPath"] == str(target)
    reset = api.delete(f"{BASE}config/export-path")
    assert reset.status_code == 200
    assert reset.json() == {"rootExportPath": str(export_root), "customPathSet": False}
    assert ExportPath.objects.count() == 0
    actions = list(AuditEntry.objects.filter(action__startswith="export_path").order_by("created", "id"))
    assert [(a.action, a.user, a.via, a.details["path"]) for a in actions] == [
        ("export_path.set", superuser, "api", str(target)),
        ("export_path.reset", superuser, "api", str(export_root)),
    ]


def test_path_not_in_normal_form_is_refused_not_normalised(api, tmp_path):
    # ".." could climb out of a directory an operator meant to allow: say so instead of rewriting it.
    body = assert_error(
        api.put(f"{BASE}config/export-path", {"path": f"{tmp_path}/a/../b/"}, format="json"),
        400,
        "export.path.invalid",
        contains="normal form",
    )
    assert f"{tmp_path}/b" in body["message"]
    assert ExportPath.objects.count() == 0


def test_one_trailing_slash_names_the_same_directory(api, tmp_path):
    response = api.put(f"{BASE}config/export-path", {"path": f"{tmp_path}/b/"}, format="json")
    assert response.json()["rootExportPath"] == str(tmp_path / "b")


def put_path(api, body, **kwargs):
    return api.put(f"{BASE}config/export-path", body, **kwargs)


def test_relative_path_is_400(api):
    body = assert_error(
        put_path(api, {"path": "relative/dir"}, format="json"), 400, "export.path.invalid", contains="absolute"
    )
    assert "'relative/dir'" in body["message"]
    assert ExportPath.objects.count() == 0
    assert (
        AuditEntry.objects.exclude(action="token.create").get().outcome == "refused"
    )  # the fixture's token is audited too


def test_path_that_is_a_file_is_400(api, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert_error(put_path(api, {"path": str(a_file)}, format="json"), 400, "export.path.invalid", contains="is a file")


def test_path_below_a_file_is_400_not_writable(api, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert_error(
        put_path(api, {"path": str(a_file / "sub")}, format="json"), 400, "export.path.invalid", contains="not writable"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_unwritable_directory_is_400(api, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_error(
        put_path(api, {"path": str(locked / "x")}, format="json"), 400, "export.path.invalid", contains="not writable"
    )


def test_too_long_path_is_400(api):
    assert_error(put_path(api, {"path": "/" + "a" * 300 + "/b"}, format="json"), 400, "export.path.invalid")
    assert_error(put_path(api, {"path": "/" + "a" * 5000}, format="json"), 400, "request.invalid", contains="path")


@pytest.mark.parametrize(
    ("raw", "key", "contains"),
    [
        (b'{"path": "/tmp/x"', "request.body.malformed", "JSON parse error"),
        (b"not json", "request.body.malformed", "JSON parse error"),
        (b'{"path": "\\ud800"}', "request.body.malformed", "surrogate"),
        (b'{"path": ["/tmp"]}', "request.invalid", "path: Not a valid string."),
        (b'{"path": null}', "request.invalid", "path: This field may not be null."),
        (b"{}", "request.invalid", "path: This field is required."),
        (b"[]", "request.invalid", "Invalid data. Expected a dictionary"),
        (b'"/tmp"', "request.invalid", "Invalid data. Expected a dictionary"),
        (b'{"path": "/tmp/x", "mode": "0755"}', "request.invalid", "mode: Unknown field 'mode'"),
        (b'{"path": "/tmp/\\u0000x"}', "request.invalid", "path: Null characters are not allowed."),
    ],
)
def test_bad_bodies_are_400(api, raw, key, contains):
    response = api.generic("PUT", f"{BASE}config/export-path", raw, content_type="application/json")
    assert_error(response, 400, key, contains=contains)
    assert ExportPath.objects.count() == 0


def test_wrong_content_type_is_415(api):
    response = api.generic("PUT", f"{BASE}config/export-path", b"path=/tmp", content_type="text/plain")
    assert_error(response, 415, "request.media.type.unsupported", contains="application/json")


def test_schema_versions_newest_first(api):
    response = api.get(f"{BASE}config/schema")
    assert response.status_code == 200
    assert response.json() == [{"version": 2, "status": "ACTIVE"}, {"version": 1, "status": "DEPRECATED"}]
