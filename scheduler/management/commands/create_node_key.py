"""Create a node agent key and print it alone on the last line (only its digest is stored)."""

from django.core.management.base import BaseCommand, CommandError

from scheduler.node_keys import node_key_create


class Command(BaseCommand):
    help = "Create a key for the node agent of NODE; it may only report usage for jobs placed on NODE."

    def add_arguments(self, parser):
        parser.add_argument("--node", required=True)

    def handle(self, *args, **options):
        node = options["node"].strip()
        if not node or len(node) > 253:
            raise CommandError("--node must be a node name (1–253 characters)")
        key, plaintext = node_key_create(node=node)
        self.stderr.write(f"node key {key.prefix} created for {node}; it is shown only once.")
        self.stdout.write(plaintext)
