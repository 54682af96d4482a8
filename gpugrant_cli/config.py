"""Where the client's credentials come from (flags, environment, the config file) and how they are stored."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gpugrant_cli.errors import AuthError, UsageError

SERVER_ENV = "GPUGRANT_SERVER"
KEY_ENV = "GPUGRANT_API_KEY"


@dataclass(frozen=True)
class Credentials:
    server: str
    api_key: str


def config_path(environ: dict[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "gpugrant" / "config.json"


def server_normalise(server: str) -> str:
    """The portal's base URL without a trailing slash; the API lives under ``/api/v1`` below it."""
    server = server.strip().rstrip("/")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"Not a server URL: {server!r}.",
            hint="Give the portal's address, e.g. https://gpugrant.example.kr",
        )
    return server.removesuffix("/api/v1")


def credentials_read(path: Path) -> Credentials | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UsageError(f"Cannot read {path}: {error}.", hint="Run `gpugrant login` again.") from None
    if not isinstance(data, dict) or not data.get("server") or not data.get("api_key"):
        raise UsageError(f"{path} is incomplete.", hint="Run `gpugrant login` again.")
    return Credentials(server=str(data["server"]), api_key=str(data["api_key"]))


def credentials_resolve(environ: dict[str, str], path: Path) -> Credentials:
    """The environment overrides the config file, each value on its own, so a script can switch servers."""
    stored = credentials_read(path)
    server = environ.get(SERVER_ENV) or (stored.server if stored else "")
    api_key = environ.get(KEY_ENV) or (stored.api_key if stored else "")
    if not server or not api_key:
        raise AuthError("Not logged in.", hint=f"Run `gpugrant login`, or set {SERVER_ENV} and {KEY_ENV}.")
    return Credentials(server=server_normalise(server), api_key=api_key)


def credentials_write(credentials: Credentials, path: Path) -> None:
    """Written to a private temporary file first, so the key is never readable by others, even briefly."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"server": credentials.server, "api_key": credentials.api_key}, handle, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o600)  # in case the file existed with wider permissions
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def credentials_forget(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
