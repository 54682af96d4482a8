"""gpugrant login / logout: the key is checked against the server before it is kept, and kept privately."""

import json
import stat

import pytest

from portal.accounts.services import api_key_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_checks_the_key_and_stores_it_readable_only_by_the_user(
    cli, home, live_server, owner_key, organisation, tmp_path
):
    result = cli("login", "--server", live_server.url + "/", "--key", owner_key, env=home)
    assert result.code == 0, result.stderr
    assert "owner@example.test" in result.stdout and "Owner's SME" in result.stdout
    config = tmp_path / "config" / "gpugrant" / "config.json"
    assert json.loads(config.read_text()) == {"server": live_server.url, "api_key": owner_key}
    assert mode(config) == 0o600 and mode(config.parent) == 0o700

    listed = cli("jobs", env=home)  # later commands use the stored credentials
    assert listed.code == 0 and "No jobs yet." in listed.stdout

    assert cli("logout", env=home).code == 0 and not config.exists()
    after = cli("jobs", env=home)
    assert after.code == 3 and "Not logged in" in after.stderr


def test_it_asks_for_the_server_and_reads_a_piped_key(cli, home, live_server, owner_key, tmp_path):
    result = cli("login", env=home, stdin=f"{live_server.url}\n{owner_key}\n")
    assert result.code == 0, result.stderr
    assert "Server URL" in result.stderr and "API key" not in result.stderr  # no prompt for a pipe
    assert owner_key not in result.stdout + result.stderr
    assert json.loads((tmp_path / "config/gpugrant/config.json").read_text())["api_key"] == owner_key


def test_a_refused_key_exits_3_and_stores_nothing(cli, home, live_server, owner, owner_key, tmp_path):
    wrong = cli("login", "--server", live_server.url, "--key", "gg_000000000000_notakey", env=home)
    assert wrong.code == 3 and "gpugrant login" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "config" / "gpugrant" / "config.json").exists()

    api_key_revoke(api_key=owner.api_keys.get(), actor=owner)
    revoked = cli("login", "--server", live_server.url, "--key", owner_key, env=home)
    assert revoked.code == 3 and not (tmp_path / "config" / "gpugrant").joinpath("config.json").exists()


def test_a_stored_login_is_replaced_not_widened(cli, home, live_server, owner_key, tmp_path):
    config = tmp_path / "config" / "gpugrant" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"server": "http://old.example", "api_key": "gg_old"}')
    config.chmod(0o644)
    assert cli("login", "--server", live_server.url, "--key", owner_key, env=home).code == 0
    assert mode(config) == 0o600 and json.loads(config.read_text())["server"] == live_server.url


def test_the_environment_overrides_the_stored_login(cli, signed_in, tmp_path):
    config = tmp_path / "config" / "gpugrant" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"server": "http://127.0.0.1:9", "api_key": "gg_stale"}')
    assert cli("jobs").code == 0  # GPUGRANT_SERVER and GPUGRANT_API_KEY win


def test_a_server_that_is_not_a_url_is_a_usage_error(cli, home, owner_key):
    result = cli("login", "--server", "gpugrant.example.kr", "--key", owner_key, env=home)
    assert result.code == 2 and "Not a server URL" in result.stderr
