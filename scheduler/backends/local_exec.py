"""Inside the sandbox, the last step before the job's command: ``python -I -S local_exec.py STATUS_FD -- COMMAND…``.

- Signals: bubblewrap was started with SIGTERM ignored (so that it outlives a SIGTERM to the rank's
  process group); Python ignores SIGPIPE and SIGXFSZ. The command gets them all back at their default,
  as a container's process would.
- Descriptors: only stdin, stdout and stderr go on to the command.
- A command that cannot start is told apart from one that exits 126 or 127: the reason goes to
  STATUS_FD (a pipe the runner reads; closed on a successful exec), as Popen does for a plain child.
"""

import os
import signal
import sys


def main(argv: list[str]) -> None:
    status_fd = int(argv[1])
    command = argv[3:] if argv[2:3] == ["--"] else argv[2:]
    for name in ("SIGTERM", "SIGPIPE", "SIGXFSZ", "SIGINT"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    os.closerange(3, status_fd)
    os.closerange(status_fd + 1, 1 << 16)
    os.set_inheritable(status_fd, False)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        code = 126 if isinstance(error, PermissionError) else 127
        os.write(status_fd, f"exec:{code}:{error.strerror or error}".encode())
        os._exit(code)


if __name__ == "__main__":
    main(sys.argv)
