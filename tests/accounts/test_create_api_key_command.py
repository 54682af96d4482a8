"""manage.py create_api_key: prints the new key alone on the last line of stdout."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.accounts.models import ApiKey
from portal.accounts.services import api_key_authenticate


@pytest.mark.django_db
@pytest.mark.parametrize("read_only", [False, True])
def test_it_prints_a_working_key_on_the_last_line(owner, read_only):
    stdout, stderr = StringIO(), StringIO()
    args = ["create_api_key", "--user", "OWNER@example.test", "--name", "ci"] + (
        ["--read-only"] if read_only else []
    )
    call_command(*args, stdout=stdout, stderr=stderr)

    last_line = stdout.getvalue().strip().splitlines()[-1]
    assert last_line.startswith("gg_") and " " not in last_line
    key = api_key_authenticate(last_line)
    assert key is not None
    assert (key.user, key.name, key.read_only) == (owner, "ci", read_only)
    assert last_line not in stderr.getvalue()  # the human note goes to stderr, without the key


@pytest.mark.django_db
def test_it_fails_for_an_unknown_user():
    with pytest.raises(CommandError, match="nobody@example.test"):
        call_command("create_api_key", "--user", "nobody@example.test", stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()
