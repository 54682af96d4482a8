"""manage.py seed_round: a new call with N reviewed applications, ready for its allocation round."""

from django.core.management.base import BaseCommand, CommandError

from portal.calls.models import Call
from portal.web.round_seed import seed_round


class Command(BaseCommand):
    help = "Seed a call with reviewed applications (tracks, levers, panel scores) ready for its round."

    def add_arguments(self, parser):
        parser.add_argument("--applications", type=int, default=500)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--tag", default="", help="names the call, users and organisations (default: s<seed>)"
        )

    def handle(self, *args, applications, seed, tag, **options):
        if not 1 <= applications <= 5000:
            raise CommandError("--applications: from 1 to 5000")
        tag = tag or f"s{seed}"
        if Call.objects.filter(title__startswith=f"Allocation round {tag} ").exists():
            raise CommandError(f"a round tagged {tag!r} exists already; give another --tag or --seed")
        seeded = seed_round(applications_count=applications, seed=seed, tag=tag)
        self.stdout.write(
            f"Call {seeded.call.title} ({seeded.call.public_id}): {seeded.applications} applications from "
            f"{seeded.organisations} organisations, reviewed. Staff: {seeded.staff.email}; every password is "
            f"'demo'. Run the round at /staff/calls/{seeded.call.public_id}/round/"
        )
