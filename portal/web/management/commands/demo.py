"""Run the whole service on embedded defaults: migrate, seed, start the Celery worker, serve the portal."""

import os
import signal
import subprocess
import sys

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.web.management.commands.seed_demo import DEMO_LOCAL_CLUSTERS, LOGINS, demo_password
from scheduler.backends import get_backend
from scheduler.backends.local import UNSANDBOXED_WARNING, sandbox_unavailable_reason
from scheduler.node_keys import node_key_create
from workers import local_layout


def worker_command() -> list[str]:
    """The demo's Celery worker, with beat in it: the scheduler (cycles, reconcile, sweep) and
    notification emails (bench.session_start starts the same one)."""
    return [
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
    ]


def serve(port: int) -> None:
    """The portal and its sessions (/sessions/: HTTP and WebSockets) in one ASGI server, as in
    production's sessions Deployment; in DEBUG portal.asgi serves static files as runserver would."""
    uvicorn.run(
        "portal.asgi:application",  # by name: the edges (web) do not import the entry point
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        access_log=False,  # a line per request would name sessions' paths (docs/sessions.md, Logging)
        log_level="warning",
    )


class Command(BaseCommand):
    help = "Migrate, seed demo data, start a Celery worker (with beat) and the portal on 127.0.0.1:$PORT."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-worker", action="store_true", help="do not start the Celery worker")

    def handle(self, *args, **options):
        port = str(options["port"])
        # Node agents meter the demo's jobs (simulated GPUs where there is no NVIDIA GPU).
        os.environ["GPUGRANT_METERING"] = settings.GPUGRANT_METERING = "agent"
        # Its simulated GPUs belong to the two demo providers' clusters (seed_demo registers them).
        if not os.environ.get("GPUGRANT_LOCAL_CLUSTERS"):
            os.environ["GPUGRANT_LOCAL_CLUSTERS"] = settings.GPUGRANT_LOCAL_CLUSTERS = DEMO_LOCAL_CLUSTERS
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=0)
        processes: list[subprocess.Popen] = []
        # SIGTERM (e.g. from `timeout` or a service manager) must also stop the children, not orphan them.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            if not options["no_worker"]:
                # The worker runs the scheduler (cycles, reconcile, sweep) and sends notification emails.
                processes.append(subprocess.Popen(worker_command(), env={**os.environ}))
                processes.extend(self._agents(port))
            url = f"http://127.0.0.1:{port}/"
            self.stdout.write(self._banner(url))
            self._warn_if_unsandboxed()
            self._serve(int(port))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _serve(self, port: int) -> None:
        serve(port)

    def _agents(self, port: str) -> list[subprocess.Popen]:
        """One node agent per local node, reporting usage to this portal with its own node key."""
        keys = settings.VAR_DIR / "node-keys"
        keys.mkdir(parents=True, exist_ok=True)
        agents = []
        for node in get_backend().inventory():
            key_file = keys / f"{node.name}.key"
            if not key_file.exists():
                _, plaintext = node_key_create(node=node.name)
                key_file.write_text(plaintext)
                key_file.chmod(0o600)
            agents.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "workers.agent",
                        "--node",
                        node.name,
                        "--portal",
                        f"http://127.0.0.1:{port}",
                        "--key-file",
                        str(key_file),
                        "--spool",
                        str(settings.VAR_DIR / "agent-spool" / node.name),
                        "--source",
                        "local",
                        "--local-state",
                        str(settings.VAR_DIR / local_layout.ROOT_FOLDER),
                        "--devices",
                        "simulated",
                        "--sample-interval",
                        "1",
                        "--report-interval",
                        "5",
                        "--log-level",
                        "WARNING",
                    ],
                    env={**os.environ},
                )
            )
        return agents

    def _warn_if_unsandboxed(self) -> None:
        """Where the local backend cannot sandbox jobs (no bubblewrap, not root), say so where nobody misses it."""
        reason = settings.GPUGRANT_BACKEND == "local" and sandbox_unavailable_reason()
        if reason:
            self.stderr.write(UNSANDBOXED_WARNING.format(reason=reason))
        elif settings.GPUGRANT_BACKEND == "local":
            self.stdout.write(
                "  Jobs run sandboxed (bubblewrap): each as a uid of its own, seeing only its own files."
            )

    def _banner(self, url: str) -> str:
        password = demo_password()
        lines = [
            "",
            "gpugrant demo is starting (SQLite, filesystem broker, console email, local backend with",
            "simulated GPUs and one node agent per node; data in var/). Example jobs run within a minute.",
            f"  Portal:   {url}",
            f"  API docs: {url}api/docs/    schema: {url}api/schema/",
            f"  Admin:    {url}admin/",
            f"  Logins (password '{password}'):",
            *(f"    {email:<22} {role}" for email, role in LOGINS),
            "  A finished allocation round (60 applications, ranked, proposed, approved): staff open it from",
            f"  {url}staff/ (Calls → Round).",
            "  A JupyterLab session on a simulated A100: log in as alice, Sessions → Launch a session.",
            "  Stop with Ctrl-C.",
            "",
        ]
        return "\n".join(lines)
