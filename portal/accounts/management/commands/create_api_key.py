"""Create an API key for a user and print it alone on the last line (it is stored hashed)."""

from django.core.management.base import BaseCommand, CommandError

from portal.accounts.models import User
from portal.accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user; the key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="the user's email")
        parser.add_argument("--name", default="", help="a label for the key")
        parser.add_argument("--read-only", action="store_true", help="the key may only read")

    def handle(self, *args, **options):
        user = User.objects.filter(email__iexact=options["user"].strip()).first()
        if user is None:
            raise CommandError(f"no user with email {options['user']!r}")
        key, plaintext = api_key_create(user=user, name=options["name"], read_only=options["read_only"])
        self.stderr.write(f"API key {key.prefix} created for {user.email}; it is shown only once.")
        self.stdout.write(plaintext)
