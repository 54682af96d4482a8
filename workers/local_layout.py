"""The local backend's files, named once: where each fact about a job lives, how it is written and read,
and how a recorded process is recognised.

scheduler/backends/local.py and local_runner.py write these files; the node agent (workers/assignments.py)
reads them. Standard library only and no imports from the project: the agent is deployed on its own, and
local_runner.py runs as a script (``python -I``) that loads this file by its path.

Under the backend's root (ROOT_FOLDER in VAR_DIR), per job:

    <job_id>/lock          flock: bind and stop of one job never interleave
    <job_id>/current       {"run": "run-N"}: the current run; absent until the job is first bound
    <job_id>/run-N/        one run (below)
    <job_id>/checkpoints/  the job's own folder that outlives its runs

and in each run folder:

    spec.json              written by the backend before any runner starts
    runner-RANK.json       {"pid", "identity"} of the runner, written before ``bind`` returns
    runner-RANK.stderr     what the runner itself printed
    child-RANK.json        {"pid", "pgid", "identity"} of the command, once started
    rank-RANK.log(.1)      the output, at most two files of ``log_limit_bytes`` each
    exit-RANK.json         {"outcome", "exit_code", "reason", "finished_at"}; the last thing written
    stop.json              the backend asks every rank to stop (its reason)
    abort.json             the first rank that failed asks its siblings to stop (gang failure)
"""

import json
import os
from pathlib import Path

ROOT_FOLDER = "local-backend"
LOCK = "lock"
CURRENT = "current"
CHECKPOINTS = "checkpoints"
RUN_PREFIX = "run-"
SPEC = "spec.json"
STOP = "stop.json"
ABORT = "abort.json"

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


# --- where ----------------------------------------------------------------------------------------


def run_name(number: int) -> str:
    return f"{RUN_PREFIX}{number}"


def run_number(name: str) -> int | None:
    """N of a ``run-N`` folder's name; None for anything else."""
    number = name.removeprefix(RUN_PREFIX)
    return int(number) if name.startswith(RUN_PREFIX) and number.isdigit() else None


def current_run(job_dir: Path) -> Path | None:
    """The job's current run folder, as ``current`` names it; None before the first bind."""
    current = read_json(job_dir / CURRENT)
    if current is None or not isinstance(current.get("run"), str):
        return None
    return job_dir / current["run"]


def runner_file(run_dir: Path, rank: int) -> Path:
    return run_dir / f"runner-{rank}.json"


def runner_stderr_file(run_dir: Path, rank: int) -> Path:
    return run_dir / f"runner-{rank}.stderr"


def child_file(run_dir: Path, rank: int) -> Path:
    return run_dir / f"child-{rank}.json"


def log_file(run_dir: Path, rank: int) -> Path:
    """The rank's output; its older part, once it reached the limit, is ``rotated(log_file(...))``."""
    return run_dir / f"rank-{rank}.log"


def rotated(log: Path) -> Path:
    return log.with_name(log.name + ".1")


def exit_file(run_dir: Path, rank: int) -> Path:
    return run_dir / f"exit-{rank}.json"


# --- how files are written and read -----------------------------------------------------------------


def write_json_atomic(path: Path, data: dict) -> None:
    """Readers see the old file or the whole new one, never a half-written one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def create_json_exclusive(path: Path, data: dict) -> bool:
    """Write ``path`` atomically unless it exists; True if this call created it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path) -> dict | None:
    """The record in ``path``; None where it is missing or is not one (every file here holds an object)."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- which process a record names ---------------------------------------------------------------------


def process_identity(pid: int) -> str | None:
    """Boot id + start time of ``pid``: tells a live process from a later one that reuses its pid.

    None where /proc is unavailable (then only the pid is checked) or the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot_id = _BOOT_ID_PATH.read_text().strip()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot_id}:{fields[19]}"  # field 22 of proc(5): start time in clock ticks after boot


def process_alive(pid: int, identity: str | None) -> bool:
    """Whether the process recorded as (pid, identity) still runs; zombies count as gone."""
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2 :].split()[0]
    if state in {"Z", "X", "x"}:
        return False
    return identity is None or process_identity(pid) == identity
