"""Create a node agent key and print it alone on the last line (only its digest is stored)."""

from django.core.management.base import BaseCommand, CommandError

from portal.providers.models import Cluster
from scheduler.node_keys import node_key_create


class Command(BaseCommand):
    help = (
        "Create a key for the node agent of NODE (of CLUSTER, under GPUGRANT_BACKEND=federated); it may only "
        "report usage for jobs placed on that node."
    )

    def add_arguments(self, parser):
        parser.add_argument("--node", required=True)
        parser.add_argument("--cluster", default="", help="the registered cluster the node belongs to")

    def handle(self, *args, **options):
        node = options["node"].strip()
        if not node or len(node) > 253 or "/" in node:
            raise CommandError("--node must be a node name as its cluster knows it (1–253 characters, no /)")
        cluster = None
        if options["cluster"]:
            cluster = Cluster.objects.filter(name=options["cluster"].strip()).first()
            if cluster is None:
                raise CommandError(f"--cluster: no registered cluster {options['cluster']!r}")
        key, plaintext = node_key_create(node=node, cluster=cluster)
        self.stderr.write(f"node key {key.prefix} created for {key.qualified_node}; it is shown only once.")
        self.stdout.write(plaintext)
