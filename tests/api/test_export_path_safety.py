"""PUT config/export-path refuses every unsafe place with the rule and the path; nothing is stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from datapipeline.models import ExportPath
from exports.models import AuditEntry

from .conftest import BASE, assert_error

pytestmark = pytest.mark.django_db


def put_path(api, path: str):
    return api.put(f"{BASE}config/export-path", {"path": path}, format="json")


def assert_refused(api, path: str, rule: str) -> None:
    body = assert_error(put_path(api, path), 400, "export.path.invalid", contains=rule)
    assert path in body["message"] or repr(path) in body["message"], body["message"]
    assert body["errors"] == [{"key": "export.path.invalid", "message": body["message"]}]
    assert ExportPath.objects.count() == 0
    assert api.get(f"{BASE}config/export-path").json()["customPathSet"] is False
    assert AuditEntry.objects.filter(action="export_path.set").latest("created").outcome == "refused"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/", "it is an operating-system directory"),
        ("/etc", "inside the operating system's directory /etc"),
        ("/usr/bin", "inside the operating system's directory /usr"),
        ("/proc/x", "inside the operating system's directory /proc"),
        ("/sys/x", "inside the operating system's directory /sys"),
        ("/dev/x", "inside the operating system's directory /dev"),
        ("/root", "inside the operating system's directory /root"),
        ("/var/lib/postgresql", "inside the operating system's directory /var/lib"),
        ("/boot/exports", "inside the operating system's directory /boot"),
        ("/run/exports", "inside the operating system's directory /run"),
    ],
)
def test_operating_system_trees_are_refused(api, path, rule):
    assert_refused(api, path, rule)


def test_a_symlink_loop_is_refused(api, tmp_path: Path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert_refused(api, str(loop), f"it contains a symbolic link at {loop}")


def test_a_dangling_symlink_is_refused(api, tmp_path: Path):
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert_refused(api, str(dangling), f"it contains a symbolic link at {dangling}")
    assert not (tmp_path / "nowhere").exists()


def test_a_symlink_in_the_middle_of_the_path_is_refused(api, tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert_refused(api, str(tmp_path / "link" / "exports"), f"it contains a symbolic link at {tmp_path / 'link'}")


@pytest.mark.parametrize("tail", ["a/../b", "a/./b", "a//b"])
def test_a_path_not_in_normal_form_is_refused(api, tmp_path: Path, tail):
    assert_refused(api, f"{tmp_path}/{tail}", "it must be written in normal form")


def test_the_project_code_directory_is_refused_but_its_var_directory_is_not(api, settings, tmp_path: Path):
    code = Path(django_settings.BASE_DIR).resolve()
    assert_refused(api, str(code), "inside the project's code directory")
    assert_refused(api, str(code / "datapipeline"), "inside the project's code directory")
    settings.VAR_DIR = code / "var"
    allowed = code / "var" / "shared-home" / "data-pipeline" / "export"
    assert put_path(api, str(allowed)).status_code == 200
    assert ExportPath.objects.get().path == str(allowed)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_sqlite_database_directory_itself_is_refused(api, settings, tmp_path: Path):
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("only a SQLite database lives in a directory of the server")
    settings.DATABASES = {**settings.DATABASES, "default": {**database, "NAME": str(tmp_path / "db.sqlite3")}}
    assert_refused(api, str(tmp_path), "it is the database's directory")
    assert put_path(api, str(tmp_path / "exports")).status_code == 200


def test_only_the_allowed_roots_when_the_setting_lists_them(api, settings, tmp_path: Path):
    settings.DATAPIPELINE_EXPORT_PATH_ROOTS = [str(tmp_path / "allowed"), "/srv/exports"]
    assert_refused(api, str(tmp_path / "other"), "it is outside the allowed roots")
    assert_refused(api, str(tmp_path / "allowed-not"), "it is outside the allowed roots")
    assert put_path(api, str(tmp_path / "allowed" / "site")).status_code == 200


def test_an_existing_file_is_refused(api, tmp_path: Path):
    (tmp_path / "file").write_text("x")
    assert_refused(api, str(tmp_path / "file"), "it is a file, not a directory")
    assert (tmp_path / "file").read_text() == "x"


def test_a_safe_new_directory_is_accepted_and_not_created_yet(api, tmp_path: Path):
    target = tmp_path / "exports" / "site"
    response = put_path(api, str(target))
    assert response.status_code == 200
    assert response.json() == {"rootExportPath": str(target), "customPathSet": True}
    assert not os.path.lexists(target)
