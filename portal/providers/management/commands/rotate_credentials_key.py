"""Re-encrypt every stored cluster credential with the first key of GPUGRANT_CREDENTIALS_KEYS."""

from django.core.management.base import BaseCommand

from portal.providers.services import credentials_rotate


class Command(BaseCommand):
    help = "Re-encrypt cluster credentials with the first configured key (docs/providers.md: key rotation)."

    def handle(self, *args, **options):
        rotated = credentials_rotate()
        self.stdout.write(f"re-encrypted {rotated} credential(s) with the first key")
