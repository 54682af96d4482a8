"""``login`` and ``logout``: checking a server and an API key, then keeping or forgetting them."""

import getpass
from urllib.parse import urlsplit

from gpugrant_cli.config import (
    KEY_ENV,
    SERVER_ENV,
    Credentials,
    credentials_forget,
    credentials_read,
    credentials_write,
    server_normalise,
)
from gpugrant_cli.errors import ExitCode, UsageError
from gpugrant_cli.runtime import Runtime

DEFAULT_SERVER = "http://127.0.0.1:8000"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def login(args, runtime: Runtime) -> int:
    stored = credentials_read(runtime.config_file) if runtime.config_file.exists() else None
    server = args.server or runtime.environ.get(SERVER_ENV)
    if not server:
        default = stored.server if stored else DEFAULT_SERVER
        server = _ask(runtime, f"Server URL [{default}]: ") or default
    server = server_normalise(server)
    api_key = (args.key or runtime.environ.get(KEY_ENV) or _ask_secret(runtime, "API key (gg_…): ")).strip()
    if not api_key:
        raise UsageError(
            "No API key given.", hint="Create one in the portal under API keys, or with the API."
        )

    credentials = Credentials(server=server, api_key=api_key)
    me = runtime.client(credentials).get("me")  # a refused key raises AuthError: nothing is stored
    credentials_write(credentials, runtime.config_file)

    organisations = ", ".join(m.get("organisation_name", "") for m in me.get("memberships", []))
    runtime.stdout.write(f"Logged in to {server} as {me.get('email')}")
    runtime.stdout.write(f" ({organisations}).\n" if organisations else " (not in any organisation yet).\n")
    runtime.stdout.write(f"Saved to {runtime.config_file} (readable only by you).\n")
    if urlsplit(server).scheme == "http" and urlsplit(server).hostname not in LOOPBACK:
        runtime.stderr.write("Warning: this server is plain http; the API key travels unencrypted.\n")
    return ExitCode.OK


def logout(args, runtime: Runtime) -> int:
    if credentials_forget(runtime.config_file):
        runtime.stdout.write(
            f"Logged out: removed {runtime.config_file}. The key itself still works until it is revoked in the portal.\n"
        )
    else:
        runtime.stdout.write("Not logged in; nothing to remove.\n")
    return ExitCode.OK


def _ask(runtime: Runtime, prompt: str) -> str:
    runtime.stderr.write(prompt)
    runtime.stderr.flush()
    line = runtime.stdin.readline()
    if not line:
        raise UsageError(
            "No answer on standard input.", hint="Pass --server and --key, or set the environment."
        )
    return line.strip()


def _ask_secret(runtime: Runtime, prompt: str) -> str:
    # A key piped in (``… | gpugrant login``) is read as a line; only a terminal gets the hidden prompt.
    if getattr(runtime.stdin, "isatty", lambda: False)():
        return getpass.getpass(prompt, stream=runtime.stderr)
    line = runtime.stdin.readline()
    if not line:
        raise UsageError("No API key on standard input.", hint="Pass --key, or set GPUGRANT_API_KEY.")
    return line
