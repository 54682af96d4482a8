"""Run the backend's watch (Kubernetes: pods and nodes) and reconcile changed jobs as they happen."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from scheduler.backends import get_backend
from scheduler.watching import can_watch, watch_and_reconcile


class Command(BaseCommand):
    help = "Watch the configured backend and reconcile jobs on every change (one replica is enough)."

    def handle(self, *args, **options):
        backend = get_backend()
        if not can_watch(backend):
            raise CommandError(f"the {backend.name} backend has no watch; the periodic reconcile covers it")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"watching the {backend.name} backend; stop with SIGTERM")
        watch_and_reconcile(backend, stop)
