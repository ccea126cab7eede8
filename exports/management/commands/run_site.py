"""``manage.py run_site``: migrate, then run the web server and one task cluster until Ctrl-C."""

from __future__ import annotations

import os
import signal
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.site_run import SiteProcesses, SiteStopped, superuser_ensure, wait_for_signal


class Command(BaseCommand):
    help = (
        "Run the site in the foreground: migrate, collect the static files, create the superuser 'admin' with "
        "a printed password if no superuser exists, then start gunicorn and one qcluster; Ctrl-C (SIGINT) or "
        "SIGTERM stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--address", default=os.environ.get("ADDRESS", "127.0.0.1"), help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="Port to bind (default 8000)."
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2).")

    def handle(self, *args: Any, address: str, port: int, workers: int, **options: Any) -> None:
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}.")
        if workers < 1:
            raise CommandError(f"--workers must be at least 1, not {workers}.")
        self.stdout.write("Applying database migrations ...")
        call_command("migrate", verbosity=0)
        self.stdout.write("Collecting static files (compressed, hashed) ...")
        call_command("collectstatic", interactive=False, verbosity=0)
        try:
            sign_in = superuser_ensure()
        except ValueError as exc:
            raise CommandError(str(exc)) from None

        processes = SiteProcesses(address=address, port=port, workers=workers)
        self.stdout.write(f"Starting the web server (gunicorn, {workers} workers) and the task cluster (qcluster) ...")
        # Ctrl-C during the start stops the children too: handled like a signal while running.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            processes.start()
            processes.wait_until_serving()
            self._announce(processes.url, sign_in)
            received = wait_for_signal(processes)
            self.stdout.write(f"{received} received: stopping the site.")
        except KeyboardInterrupt:
            self.stdout.write("SIGINT received: stopping the site.")
        except SiteStopped as exc:
            processes.stop(self.stdout.write)
            raise CommandError(f"{exc} Both are stopped.") from None
        finally:
            signal.signal(signal.SIGINT, previous)
        processes.stop(self.stdout.write)
        self.stdout.write(self.style.SUCCESS("The web server and the task cluster are stopped."))

    def _announce(self, url: str, sign_in: Any) -> None:
        self.stdout.write(self.style.SUCCESS(f"The site is running at {url}/admin/"))
        if sign_in.password:
            self.stdout.write(
                f"Sign in as {sign_in.username} with the password {sign_in.password} "
                "(a superuser created now; change the password in the admin)."
            )
        else:
            self.stdout.write(f"Sign in as a superuser, e.g. {sign_in.username} (manage.py changepassword to reset).")
        self.stdout.write("Data pipeline screen: " + f"{url}/admin/exports/exportjob/. Ctrl-C stops the site.")
