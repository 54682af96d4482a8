"""Runs one rank of a local-backend job and records how it ended, in files only.

Usage: ``python local_runner.py RUN_DIR RANK [NETWORK_FD]`` (or ``python -m scheduler.backends.local_runner``).

The local backend starts one runner per pod. The runner detaches (double fork, so that neither the
Celery worker that bound the job nor anyone else has to reap it), starts the job's command in a
process group of its own, copies its output into a bounded log, enforces the deadline, and finally
writes ``exit-RANK.json`` atomically. Every fact lives in a file of RUN_DIR, so any process can read it
later; workers/local_layout.py names them and says what each holds.

Outcomes: ``exited`` (with exit_code), ``start_failed``, ``timed_out``, ``stopped``, ``aborted``
(a sibling rank failed), ``terminated`` (the runner itself got SIGTERM, e.g. the host shutting down).

A rank with a ``sandbox`` in spec.json runs in it: the runner (root) joins the job's network namespace
(NETWORK_FD, from the backend), then starts bubblewrap as the job's uid through local_launch.prepare,
and bubblewrap starts local_exec.py, which execs the command. Its process group is then bubblewrap's:
SIGTERM to the group reaches the command (bubblewrap ignores it), SIGKILL ends bubblewrap and with it
the sandbox's whole PID namespace. The runner writes every file here as root, outside the sandbox.

Standard library only (workers/local_layout.py is too): no Django, no database, so that it starts fast.
"""

import functools
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

TICK_SECONDS = 0.1  # how often the deadline and the stop/abort requests are checked
DRAIN_SECONDS = 1.0  # how long output is still read after the command exits (daemons may hold the pipe)
READ_CHUNK = 64 * 1024


def _module_at(name: str, path: Path):
    """The module in the file ``path``: the runner runs as a script, without the project on its path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The files' names and formats, shared with the backend and the node agent (workers/local_layout.py).
layout = _module_at(
    "gpugrant_local_layout", Path(__file__).resolve().parents[2] / "workers" / "local_layout.py"
)
write_json_atomic = layout.write_json_atomic
create_json_exclusive = layout.create_json_exclusive
read_json = layout.read_json
process_identity = layout.process_identity
process_alive = layout.process_alive


# --- helpers shared with the backend (scheduler/backends/local.py) ------------------------------


def signal_group(record: dict | None, sig: int) -> bool:
    """Send ``sig`` to the process group of a child record; False if there was nothing to signal.

    A group id cannot be reused while any member lives, so the only risk is a group that has died
    out entirely and a new process that took its leader's pid: that is the case skipped here.
    """
    if not record:
        return False
    pgid = record["pgid"]
    if not process_alive(pgid, record.get("identity")) and process_alive(pgid, None):
        return False  # the leader's pid now belongs to someone else
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_exists(record: dict | None) -> bool:
    return signal_group(record, 0)


# --- the bounded log ------------------------------------------------------------------------------


class BoundedLog:
    """Keeps at least the last ``limit`` bytes of output in two files of at most ``limit`` bytes each.

    When the current file would grow past the limit it becomes ``.1`` (replacing the older one), so
    a job printing forever uses at most 2 × limit bytes of disk.
    """

    def __init__(self, path: Path, limit: int):
        self.path = path
        self.old_path = layout.rotated(path)
        self.limit = max(1, limit)
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self.size = self.file.tell()

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            self.file.close()
            os.replace(self.path, self.old_path)
            self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = 0
            data = data[-self.limit :]
        self.file.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.file.close()


# --- the runner -----------------------------------------------------------------------------------


class Runner:
    def __init__(self, run_dir: Path, rank: int, network_fd: int | None = None):
        self.run_dir = run_dir
        self.rank = rank
        self.network_fd = network_fd
        self.spec = json.loads((run_dir / layout.SPEC).read_text())
        self.grace = float(self.spec["stop_grace_seconds"])
        self.deadline = float(self.spec["deadline"])
        self.log = BoundedLog(layout.log_file(run_dir, rank), int(self.spec["log_limit_bytes"]))
        self.child: subprocess.Popen | None = None
        self.pipe_fd: int | None = None
        self.status_fd: int | None = None  # sandboxed: why the command could not start, if it could not
        self.sigterm_received = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        rank_spec = self.spec["ranks"][self.rank]
        command = self.spec["command"]
        if self._stop_reason():
            self._finish("stopped", None, "stopped before it started")
            return
        sandbox = rank_spec.get("sandbox")
        try:
            if sandbox:
                self.child = self._start_sandboxed(command, rank_spec["env"], sandbox)
            else:
                self.child = subprocess.Popen(
                    command,
                    env=rank_spec["env"],
                    cwd=self.spec["workdir"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stop and timeouts kill all of it
                )
        except OSError as error:
            program = sandbox["argv"][0] if sandbox else command[0]
            reason = f"cannot start {program!r}: {error.strerror or error}"
            self.log.write(f"gpugrant: {reason}\n".encode())
            self._finish("start_failed", 126 if isinstance(error, PermissionError) else 127, reason)
            return
        pid = self.child.pid
        child_record = {"pid": pid, "pgid": pid, "identity": process_identity(pid)}
        write_json_atomic(layout.child_file(self.run_dir, self.rank), child_record)
        self.pipe_fd = self.child.stdout.fileno()
        outcome, reason = self._supervise()
        code = self.child.returncode
        self._kill_stragglers()
        self._drain(time.monotonic() + DRAIN_SECONDS)
        failed_start = self._start_failure(command, code)
        if failed_start:
            self.log.write(f"gpugrant: {failed_start[1]}\n".encode())
            self._finish("start_failed", failed_start[0], failed_start[1])
            return
        if outcome is None:
            outcome, reason = self._classify_exit(code, sandboxed=bool(sandbox))
        self._finish(outcome, _shell_exit_code(code), reason)

    def _start_sandboxed(self, command: list[str], env: dict, sandbox: dict) -> subprocess.Popen:
        """bubblewrap as the job's uid, in the job's network namespace, with the rank's limits."""
        if self.network_fd is None:
            raise OSError("no network namespace for the job: refusing to share the host's")
        launch = _sibling_module("local_launch")
        launch.join_network(self.network_fd)
        os.close(self.network_fd)
        self.network_fd = None
        self.status_fd, status_write = os.pipe()
        os.set_blocking(self.status_fd, False)
        try:
            return subprocess.Popen(
                [*sandbox["argv"], *sandbox["exec"], str(status_write), "--", *command],
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(status_write,),
                preexec_fn=functools.partial(
                    launch.prepare,
                    sources=sandbox["stage"],
                    stage_root=sandbox["stage_root"],
                    limits=sandbox["limits"],
                    uid=sandbox["uid"],
                    status_fd=status_write,
                ),
            )
        finally:
            os.close(status_write)

    def _start_failure(self, command: list[str], code: int) -> tuple[int, str] | None:
        """(exit code, reason) where the sandbox or the exec in it failed (local_launch, local_exec).

        Believed only with the exit code that goes with it: the pipe is the sandbox's, and a job could
        at most relabel its own exit 125–127.
        """
        if self.status_fd is None:
            return None
        try:
            message = os.read(self.status_fd, READ_CHUNK).decode(errors="replace")
        except BlockingIOError:
            message = ""
        os.close(self.status_fd)
        self.status_fd = None
        kind, _, detail = message[:1000].partition(":")
        if kind == "exec" and code in (126, 127) and detail.startswith(f"{code}:"):
            return code, f"cannot start {command[0]!r}: {detail.partition(':')[2]}"
        if kind == "launch" and code == 125:
            return 125, detail
        return None

    def _supervise(self) -> tuple[str | None, str]:
        """Copy output until the command exits; end it early when asked to. Returns (outcome, reason)."""
        while True:
            self._read_output(TICK_SECONDS)
            if self.child.poll() is not None:
                return None, ""
            if time.time() >= self.deadline:
                self._terminate()
                return "timed_out", f"exceeded its max runtime of {self.spec['max_runtime_seconds']} s"
            if self._stop_reason() is not None:
                self._terminate()
                return "stopped", self._stop_reason()
            abort = self._abort_by_sibling()
            if abort:
                self._terminate()
                return "aborted", abort
            if self.sigterm_received:
                self._terminate()
                return "terminated", "the runner received SIGTERM (host shutting down?)"

    def _classify_exit(self, code: int, sandboxed: bool = False) -> tuple[str, str]:
        if self._stop_reason() is not None:
            return "stopped", self._stop_reason()
        abort = self._abort_by_sibling()
        if abort and code != 0:
            return "aborted", abort
        if code == 0:
            return "exited", ""
        if code < 0:
            return "exited", f"killed by signal {_signal_name(-code)}"
        if sandboxed and 128 < code < 160:
            # bubblewrap exits 128 + N when the command was killed by signal N, as a shell does.
            return "exited", f"killed by signal {_signal_name(code - 128)}"
        return "exited", f"exited with code {code}"

    def _terminate(self) -> None:
        """SIGTERM the command's group, SIGKILL it if it is still there after the grace period."""
        self._signal(signal.SIGTERM)
        give_up = time.monotonic() + self.grace
        while self.child.poll() is None and time.monotonic() < give_up:
            self._read_output(min(TICK_SECONDS, max(0.0, give_up - time.monotonic())))
        self._signal(signal.SIGKILL)
        self.child.wait()

    def _kill_stragglers(self) -> None:
        """The command has exited; whatever it left running in its group goes too (as in a container)."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.child.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read_output(self, timeout: float) -> None:
        if self.pipe_fd is None:
            time.sleep(timeout)
            return
        # poll, not select: it has no limit on descriptor numbers.
        poller = select.poll()
        poller.register(self.pipe_fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        if poller.poll(timeout * 1000):
            data = os.read(self.pipe_fd, READ_CHUNK)
            if data:
                self.log.write(data)
            else:
                self._close_pipe()

    def _drain(self, until: float) -> None:
        while self.pipe_fd is not None and time.monotonic() < until:
            self._read_output(max(0.0, until - time.monotonic()))
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.pipe_fd is not None:
            self.child.stdout.close()
            self.pipe_fd = None

    def _stop_reason(self) -> str | None:
        stop = read_json(self.run_dir / layout.STOP)
        return None if stop is None else stop.get("reason", "stopped")

    def _abort_by_sibling(self) -> str | None:
        abort = read_json(self.run_dir / layout.ABORT)
        if abort is None or abort.get("rank") == self.rank:
            return None
        return f"rank {abort['rank']} failed: {abort['reason']}"

    def _on_sigterm(self, signum, frame) -> None:
        self.sigterm_received = True

    def _finish(self, outcome: str, exit_code: int | None, reason: str) -> None:
        self.log.close()
        if outcome in {"exited", "start_failed"} and exit_code != 0 and len(self.spec["ranks"]) > 1:
            self._abort_siblings(reason)
        write_json_atomic(
            layout.exit_file(self.run_dir, self.rank),
            {"outcome": outcome, "exit_code": exit_code, "reason": reason, "finished_at": time.time()},
        )

    def _abort_siblings(self, reason: str) -> None:
        """A gang fails together: the first failing rank asks the others' runners to end their commands."""
        if not create_json_exclusive(self.run_dir / layout.ABORT, {"rank": self.rank, "reason": reason}):
            return
        for rank in range(len(self.spec["ranks"])):
            if rank != self.rank:
                signal_group(read_json(layout.child_file(self.run_dir, rank)), signal.SIGTERM)


def _shell_exit_code(code: int) -> int:
    """Popen's negative "killed by signal N" as the shell (and Kubernetes) write it: 128 + N."""
    return 128 - code if code < 0 else code


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _sibling_module(name: str):
    """A module beside this file, loaded by path: the runner runs as a script, without its package."""
    return _module_at(f"gpugrant_{name}", Path(__file__).with_name(f"{name}.py"))


def main(argv: list[str]) -> None:
    run_dir, rank = Path(argv[1]), int(argv[2])
    network_fd = int(argv[3]) if len(argv) > 3 else None
    runner_pid = os.fork()
    if runner_pid:
        # The intermediate process records the detached runner, then exits so its parent can reap it.
        write_json_atomic(
            layout.runner_file(run_dir, rank), {"pid": runner_pid, "identity": process_identity(runner_pid)}
        )
        os._exit(0)
    Runner(run_dir, rank, network_fd).run()


if __name__ == "__main__":
    main(sys.argv)
