"""Run the whole site in the foreground: a gunicorn web server and one qcluster, stopped together.

Both children get sessions of their own, so a Ctrl-C in the terminal reaches this process only; it
then stops them in order (SIGTERM to each main process: gunicorn finishes its requests, the cluster
cancels a running export), and kills what is left of either after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

ADMIN_USERNAME = "admin"
STOP_GRACE_SECONDS = 20
START_TIMEOUT_SECONDS = 60
MANAGE = Path(settings.BASE_DIR) / "manage.py"


@dataclass(frozen=True)
class SignIn:
    """Who to sign in as: the superuser created now (with its password) or the existing ones."""

    username: str
    password: str | None  # set only when the superuser was created now


@transaction.atomic
def superuser_ensure() -> SignIn:
    """Create the superuser ``admin`` with a random password unless a superuser exists."""
    User = get_user_model()
    existing = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if existing is not None:
        return SignIn(username=existing.get_username(), password=None)
    if User.objects.filter(username=ADMIN_USERNAME).exists():
        raise ValueError(
            f"No active superuser exists and the username {ADMIN_USERNAME!r} is taken by an ordinary user: "
            "create one with `python manage.py createsuperuser`."
        )
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(ADMIN_USERNAME, "", password)
    return SignIn(username=ADMIN_USERNAME, password=password)


def wait_for_login_page(base_url: str, *, timeout: float, check: Callable[[], None]) -> bool:
    """Poll the admin's login page until it answers 200 (True) or ``timeout`` passes (False).

    ``check`` runs before each attempt and raises to give up early (e.g. the server process exited).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        try:
            with urllib.request.urlopen(f"{base_url}/admin/login/", timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    return False


class SiteStopped(Exception):
    """A child exited on its own, or the site did not come up."""


class SiteProcesses:
    """The web server and the task cluster as child processes."""

    def __init__(self, *, address: str, port: int, workers: int) -> None:
        self.url = f"http://{address}:{port}"
        python = sys.executable
        self.commands = {
            "web server": [
                python, "-m", "gunicorn", "config.wsgi", "--bind", f"{address}:{port}", "--workers", str(workers),
                "--graceful-timeout", "10", "--log-level", "warning",
            ],
            "task cluster": [python, str(MANAGE), "qcluster"],
        }  # fmt: skip
        self.children: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        for name, command in self.commands.items():
            self.children[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)

    def wait_until_serving(self) -> None:
        if not wait_for_login_page(self.url, timeout=START_TIMEOUT_SECONDS, check=self.check_alive):
            raise SiteStopped(f"The web server did not answer at {self.url} within {START_TIMEOUT_SECONDS} s.")

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise SiteStopped(f"The {name} exited with status {child.returncode}.")

    def stop(self, log: Callable[[str], None]) -> None:
        """SIGTERM to each child's main process, then SIGKILL to whatever is left of its session."""
        for name, child in self.children.items():
            if child.poll() is None:
                log(f"Stopping the {name} (pid {child.pid}) ...")
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Workers of either server are in the child's session: none may outlive it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def wait_for_signal(processes: SiteProcesses) -> str:
    """Block until SIGINT or SIGTERM (returns its name) or until a child dies (raises SiteStopped)."""
    received: list[int] = []

    def note(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not received:
            processes.check_alive()
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return signal.Signals(received[0]).name
