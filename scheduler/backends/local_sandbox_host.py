"""The host's side of the local sandbox: which of its paths jobs see, and whether sandboxing works here."""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from scheduler.backends import local_exec, local_launch

# Merged-/usr systems have these as links into /usr; older layouts as folders of their own.
ROOT_LINKS_OR_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs read from /etc that tells nothing about the service: the dynamic linker's cache, the time
# zone, Debian's alternatives (/usr/bin/awk → /etc/alternatives/awk), the name service switch.
ETC_SHARED = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "alternatives",
    "nsswitch.conf",
)


def system_layout() -> tuple[list[str], list[tuple[str, str]]]:
    """Read-only system paths (/usr, root folders, the /etc files above) and the root links, as on this host."""
    shared, links = ["/usr"], []
    for path in ROOT_LINKS_OR_DIRS:
        if os.path.islink(path):
            links.append((os.readlink(path), path))
        elif os.path.isdir(path):
            shared.append(path)
    shared += [f"/etc/{name}" for name in ETC_SHARED if os.path.exists(f"/etc/{name}")]
    return shared, links


def python_paths() -> list[str]:
    """The interpreter jobs run (sys.executable): its installation and the venv with the packages."""
    executable_dir = os.path.dirname(os.path.realpath(sys.executable))
    return list(dict.fromkeys([sys.base_prefix, sys.prefix, executable_dir]))


def python_bins() -> list[str]:
    return list(dict.fromkeys([os.path.join(sys.prefix, "bin"), os.path.join(sys.base_prefix, "bin")]))


def code_paths() -> list[str]:
    """The project's packages jobs may import (settings.GPUGRANT_LOCAL_SANDBOX_CODE), and the exec shim."""
    packages = [str(Path(settings.BASE_DIR) / name) for name in settings.GPUGRANT_LOCAL_SANDBOX_CODE]
    return [*packages, local_exec.__file__]


def service_state_paths(backend_root: Path) -> list[str]:
    """What no job may see: VAR_DIR (secret key, node keys, spool, broker), the runs, the SQLite file."""
    paths = [str(settings.VAR_DIR), str(backend_root)]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) != ":memory:":
        paths.append(str(database["NAME"]))
    return [os.path.abspath(path) for path in paths]


def bwrap_binary() -> str | None:
    return shutil.which(settings.GPUGRANT_LOCAL_SANDBOX_BWRAP)


def unavailable_reason() -> str:
    """'' where jobs can run sandboxed here; else why not, in words for an operator."""
    return _unavailable_reason(settings.GPUGRANT_LOCAL_SANDBOX_BWRAP)


@functools.cache
def _unavailable_reason(bwrap_setting: str) -> str:
    bwrap = shutil.which(bwrap_setting)
    if bwrap is None:
        return f"bubblewrap ({bwrap_setting}) is not installed (Debian: apt-get install bubblewrap)"
    if os.geteuid() != 0:
        return "the worker does not run as root, so it cannot run each job as a uid of its own"
    try:
        user_namespaces = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        user_namespaces = 0
    if user_namespaces <= 0:
        return "user namespaces are off (/proc/sys/user/max_user_namespaces is 0 or missing)"
    try:
        done = subprocess.run(
            [sys.executable, "-I", local_launch.__file__, "probe", bwrap],
            capture_output=True,
            text=True,
            timeout=60,
            env={},
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"a test sandbox could not run: {error}"
    if done.returncode != 0:
        return f"a test sandbox failed: {(done.stdout.strip() or done.stderr.strip())[-500:]}"
    return ""
