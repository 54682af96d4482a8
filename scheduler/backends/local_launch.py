"""The privileged steps between the runner (root) and bubblewrap (the job's unprivileged uid).

Standard library only: the runner imports it (scheduler/backends/local_runner.py).

In the runner:
    join_network(fd)      the runner enters the job's network namespace (local_netns.py), so every rank's
                          sandbox shares it: the ranks reach each other on 127.0.0.1, and nothing else
In the child that becomes bubblewrap (``prepare``, a ``preexec_fn``):
    stage(sources)        a private mount namespace with each source bound at STAGE_ROOT/i: bubblewrap,
                          unprivileged, could not reach sources under root-only folders (VAR_DIR's runs,
                          a Python under /root), and needs no permission on their parents this way
    set_limits(limits)    setrlimit, soft = hard, before the uid drops (the job cannot raise them)
    drop_to(uid)          no supplementary groups, real/effective/saved uid and gid all the job's
    SIGTERM ignored       bubblewrap must outlive a SIGTERM to the rank's process group, so that the
                          command gets it and can checkpoint; local_exec.py restores it for the command

``python local_launch.py probe BWRAP`` tries all of it once with ``true`` and says why it cannot.
"""

import ctypes
import os
import resource
import signal
import stat
import subprocess
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PROBE_UID = 65534  # nobody: the probe needs some unprivileged uid, and never runs a job's code

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class LaunchError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise LaunchError(error, f"{what}: {os.strerror(error)}")


def join_network(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns into the job's network namespace")


def stage(sources: list[str], stage_root: str) -> None:
    """Bind each source at ``stage_root/i`` in a new, private mount namespace of this process."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    # Opened in the new namespace (a bind from another one is refused), before the tmpfs below would
    # hide a source that lies under stage_root.
    fds = [os.open(source, os.O_PATH | os.O_CLOEXEC) for source in sources]
    _check(
        _libc.mount(b"tmpfs", stage_root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755,size=64k"),
        f"mount a tmpfs on {stage_root}",
    )
    for index, fd in enumerate(fds):
        target = f"{stage_root}/{index}"
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        source = f"/proc/self/fd/{fd}".encode()
        _check(_libc.mount(source, target.encode(), None, MS_BIND | MS_REC, None), f"stage {sources[index]}")
        os.close(fd)


def set_limits(limits: dict[str, int]) -> None:
    """Soft = hard = the limit, or the runner's own hard limit where that is lower (it cannot be raised)."""
    for name, value in limits.items():
        kind = getattr(resource, name)
        hard = resource.getrlimit(kind)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def drop_to(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise LaunchError(0, f"still uid {os.geteuid()} after dropping to {uid}")


def prepare(*, sources: list[str], stage_root: str, limits: dict[str, int], uid: int, status_fd: int) -> None:
    """The ``preexec_fn`` of the rank's bubblewrap. A failure is written to ``status_fd`` before exiting 125.

    Popen would turn an exception here into a bare "Exception occurred in preexec_fn"; the runner reads
    the reason from the status pipe instead.
    """
    try:
        stage(sources, stage_root)
        set_limits(limits)
        drop_to(uid, uid)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except Exception as error:  # noqa: BLE001 - whatever it is, the job must not start
        os.write(status_fd, f"launch:cannot set up the sandbox: {error}".encode())
        os._exit(125)


def probe(bwrap: str) -> str:
    """Start a sandbox the way the runner does, running ``true``; '' if it worked, else why not."""
    read_end, write_end = os.pipe()
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--unshare-net",  # the probe has no job network to join: a network namespace of its own
        "--disable-userns",
        "--die-with-parent",
        "--uid",
        str(PROBE_UID),
        "--gid",
        str(PROBE_UID),
        "--ro-bind",
        "/run/0",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
        "/usr/bin/true",
    ]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            pass_fds=(write_end,),
            preexec_fn=lambda: prepare(
                sources=["/usr"], stage_root="/run", limits={}, uid=PROBE_UID, status_fd=write_end
            ),
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"{bwrap}: {error}"
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as status:
        failure = status.read().decode(errors="replace").removeprefix("launch:")
    if failure:
        return failure
    if done.returncode != 0:
        return f"{bwrap} exited with {done.returncode}: {done.stderr.decode(errors='replace').strip()[-500:]}"
    return ""


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "probe":
        sys.exit("usage: python local_launch.py probe BWRAP")
    reason = probe(sys.argv[2])
    print(reason or "ok")
    sys.exit(1 if reason else 0)
