"""A network namespace of the job's own: only a loopback interface, shared by all its ranks.

The service's PostgreSQL, Redis and RabbitMQ listen on the host's loopback; a job in a namespace of its
own cannot reach them, nor any other job's ports, nor the outside. Its ranks rendezvous on its own
127.0.0.1 (MASTER_ADDR).

``job_network()`` (the backend, at bind) starts ``python -I local_netns.py``, which unshares a new
network namespace, brings ``lo`` up and waits; the backend opens the namespace (an fd), lets the
helper exit, and passes the fd to each rank's runner, which joins it (local_launch.join_network). The
namespace lives as long as any runner or sandboxed process is in it. Standard library only.
"""

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
READY = b"ready\n"


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def _hold() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        sys.exit(f"cannot make a network namespace: {os.strerror(error)}")
    _loopback_up()
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    sys.stdin.buffer.read()  # until the backend has opened the namespace and closes our stdin


@contextmanager
def job_network():
    """An fd of a new network namespace with loopback up; closed on leaving (runners keep their copies)."""
    helper = subprocess.Popen(
        [sys.executable, "-I", __file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
    )
    try:
        if helper.stdout.readline() != READY:
            helper.stdin.close()
            error = helper.stderr.read().decode(errors="replace").strip()
            raise OSError(f"no network namespace for the job: {error or 'the helper failed'}")
        fd = os.open(f"/proc/{helper.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        if not helper.stdin.closed:
            helper.stdin.close()
        helper.wait(timeout=30)
        helper.stdout.close()
        helper.stderr.close()
    try:
        yield fd
    finally:
        os.close(fd)


if __name__ == "__main__":
    _hold()
