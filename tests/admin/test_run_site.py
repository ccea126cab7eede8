"""``manage.py run_site`` (``make run``): the whole site in the foreground, signed in to, stopped by Ctrl-C."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from .live import ROOT, free_port

pytestmark = pytest.mark.integration
START_TIMEOUT = 120


def read_until(process: subprocess.Popen, log: Path, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return found
        assert process.poll() is None, f"run_site exited {process.returncode}:\n{log.read_text()}"
        time.sleep(0.3)
    raise AssertionError(f"no {pattern!r} within {timeout} s:\n{log.read_text()}")


def family(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_site_serves_a_styled_admin_signs_in_and_stops_everything(tmp_path, stop_signal):
    port = free_port()
    dropped = {"DATABASE_URL", "TEST_DATABASE_NAME", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_")}
    env.update(DATAPIPELINE_VAR_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    log = tmp_path / "run_site.log"
    with log.open("wb") as handle:
        site = subprocess.Popen(
            [sys.executable, "manage.py", "run_site"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        url = read_until(site, log, r"^The site is running at (http://\S+)/admin/$", START_TIMEOUT).group(1)
        assert url == f"http://127.0.0.1:{port}"
        password = read_until(site, log, r"^Sign in as admin with the password (\S+) ", 5).group(1)
        children = family(site.pid)
        assert {"gunicorn", "qcluster"} <= {word for c in children for word in " ".join(c.cmdline()).split()}

        # The login page, styled with DEBUG off: its stylesheet is the collected, hashed base.css.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(f"{url}/admin/login/?next=/admin/exports/exportjob/") as answer:
            assert answer.status == 200
            login_page = answer.read().decode()
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login_page).group(1)
        with opener.open(f"{url}{css}") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/css")
            assert b"--body-bg" in answer.read()

        # Sign in with the printed password: the Data pipeline screen opens.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = {"csrfmiddlewaretoken": token, "username": "admin", "password": password}
        form["next"] = "/admin/exports/exportjob/"
        request = urllib.request.Request(  # noqa: S310 (an http URL of the test server)
            f"{url}/admin/login/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{url}/admin/login/"},
        )
        with opener.open(request) as answer:
            assert answer.status == 200
            assert answer.url == f"{url}/admin/exports/exportjob/"
            assert "<h1>Data pipeline</h1>" in answer.read().decode()

        site.send_signal(stop_signal)
        assert site.wait(timeout=60) == 0, log.read_text()
        output = log.read_text()
        assert f"{stop_signal.name} received: stopping the site." in output
        assert "The web server and the task cluster are stopped." in output
        time.sleep(0.5)
        alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"left behind: {[c.cmdline() for c in alive]}"
    finally:
        if site.poll() is None:
            for child in family(site.pid):
                child.kill()
            site.kill()
            site.wait()
