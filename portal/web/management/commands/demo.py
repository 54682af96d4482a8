"""Run the whole service on embedded defaults: migrate, seed, start the Celery worker, serve the portal."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.web.management.commands.seed_demo import LOGINS, demo_password


class Command(BaseCommand):
    help = "Migrate, seed demo data, start a Celery worker (with beat) and the portal on 127.0.0.1:$PORT."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-worker", action="store_true", help="do not start the Celery worker")

    def handle(self, *args, **options):
        port = str(options["port"])
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=0)
        worker = None
        if not options["no_worker"]:
            # The worker sends notification emails (printed to its console) and runs the periodic sweeps.
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--beat",
                    "--pool=solo",
                    "--loglevel=WARNING",
                    f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
                ],
                env={**os.environ},
            )
        # SIGTERM (e.g. from `timeout` or a service manager) must also stop the worker, not orphan it.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        url = f"http://127.0.0.1:{port}/"
        self.stdout.write(self._banner(url))
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True)
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _banner(self, url: str) -> str:
        password = demo_password()
        lines = [
            "",
            "gpugrant demo is starting (SQLite, filesystem broker, console email; data in var/).",
            f"  Portal:   {url}",
            f"  API docs: {url}api/docs/    schema: {url}api/schema/",
            f"  Admin:    {url}admin/",
            f"  Logins (password '{password}'):",
            *(f"    {email:<22} {role}" for email, role in LOGINS),
            "  Stop with Ctrl-C.",
            "",
        ]
        return "\n".join(lines)
