"""The local backend: each pod of a job runs as a subprocess on this machine (the image is not pulled).

State lives only in files, under ``VAR_DIR/local-backend/<job_id>/``, so that any worker process can
bind a job and any other can later read its status, stop it or read its logs. workers/local_layout.py
names those files (the node agent reads them too); beside the jobs' folders, ``.sandbox-uids/`` says which
running job has which uid (local_uids.py).

A job that was stopped (preempted) or lost gets a new run when it is bound again; the old runs go.
Without NVIDIA GPUs the machine offers simulated ones (settings.GPUGRANT_LOCAL_GPUS), one node per type.

Each rank runs sandboxed (settings.GPUGRANT_LOCAL_SANDBOX; what it sees: local_sandbox.py): as a host uid
of the job's own (local_uids.py), in its own user, mount, PID, IPC, UTS and cgroup namespaces
(bubblewrap), in a network namespace its ranks share and nothing else can reach (local_netns.py), with
rlimits from the job's request. Where the sandbox cannot work here, the backend refuses to start
("required", production), or runs jobs unsandboxed and says so loudly ("if-available", the demo).
"""

import dataclasses
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scheduler.backends import local_exec, local_netns, local_runner, local_sandbox, local_sandbox_host
from scheduler.backends.base import (
    SESSION_SOCKET,
    SESSION_SOCKET_FILE,
    Backend,
    BindError,
    JobSpec,
    JobStatus,
    NodeInfo,
    Phase,
)
from scheduler.backends.local_uids import NoFreeUid, UidLeases
from workers import local_layout as layout
from workers.local_layout import create_json_exclusive, process_alive, read_json, write_json_atomic

log = logging.getLogger(__name__)

RUNNER_START_SECONDS = 30  # a rank with no runner record this long after bind was never started: lost
INVENTORY_CACHE_SECONDS = 60
# Where a sandboxed session finds its socket folder (docs/sessions.md).
SANDBOX_SESSION_DIR = "/run/gpugrant-session"
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RUNNER_VANISHED = "its runner vanished without an exit record (killed, or the machine restarted)"
_ENV_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
_ENV_PASSED_INTO_SANDBOX = ("LANG", "LC_ALL", "TZ")  # the rest of a sandboxed job's environment is its own
_BANG_LINE = "!" * 100
UNSANDBOXED_WARNING = (
    f"\n{_BANG_LINE}\n"
    "!!! JOBS RUN UNSANDBOXED: as the worker's user, on the host's files and network, able to read the\n"
    "!!! database, the secret key, node keys and every other job. Demo only. Reason: {reason}\n"
    "!!! Install bubblewrap and run as root to sandbox them (docs/configuration.md, GPUGRANT_LOCAL_SANDBOX).\n"
    f"{_BANG_LINE}"
)


class SandboxUnavailable(ImproperlyConfigured):
    """GPUGRANT_LOCAL_SANDBOX=required, and jobs cannot be sandboxed on this machine."""


@dataclass(frozen=True)
class _RankState:
    phase: Phase
    reason: str = ""
    exit_code: int | None = None
    outcome: str = ""


class LocalBackend(Backend):
    name = "local"

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        nvidia_smi: str | None = "nvidia-smi",
        stop_grace_seconds: float = 10.0,
        log_limit_bytes: int | None = None,
    ):
        """``root`` defaults to VAR_DIR/local-backend; ``nvidia_smi=None`` forces simulated GPUs."""
        self.root = Path(root) if root is not None else Path(settings.VAR_DIR) / layout.ROOT_FOLDER
        self.nvidia_smi = nvidia_smi
        self.stop_grace_seconds = stop_grace_seconds
        self.log_limit_bytes = log_limit_bytes
        self._real_gpus_cache: tuple[float, list[NodeInfo]] | None = None
        self.unsandboxed_reason = sandbox_unavailable_reason()
        if self.unsandboxed_reason and settings.GPUGRANT_LOCAL_SANDBOX == "required":
            raise SandboxUnavailable(
                f"GPUGRANT_LOCAL_SANDBOX=required, but jobs cannot be sandboxed here: {self.unsandboxed_reason}"
            )
        self.sandboxed = not self.unsandboxed_reason
        if self.sandboxed:
            self._uids = UidLeases(
                self.root / ".sandbox-uids",
                settings.GPUGRANT_LOCAL_SANDBOX_UID_BASE,
                settings.GPUGRANT_LOCAL_SANDBOX_UID_COUNT,
            )
            self._system_paths, self._root_links = local_sandbox_host.system_layout()
            self._shared_paths = [
                *self._system_paths,
                *local_sandbox_host.python_paths(),
                *local_sandbox_host.code_paths(),
                *settings.GPUGRANT_LOCAL_SANDBOX_RO_PATHS,
            ]
            missing = [path for path in self._shared_paths if not os.path.exists(path)]
            if missing:
                raise ImproperlyConfigured(
                    f"the local sandbox cannot show jobs paths that do not exist: {missing}"
                )
            exposed = local_sandbox.exposed_service_state(
                self._shared_paths, local_sandbox_host.service_state_paths(self.root)
            )
            if exposed:
                raise ImproperlyConfigured(
                    f"the local sandbox would show the service's state to jobs: {exposed}"
                )
        else:
            log.warning(UNSANDBOXED_WARNING.format(reason=self.unsandboxed_reason))

    # --- inventory --------------------------------------------------------------------------------

    def inventory(self) -> list[NodeInfo]:
        nodes = self._real_gpu_nodes() or simulated_nodes(settings.GPUGRANT_LOCAL_GPUS)
        clusters = local_clusters(settings.GPUGRANT_LOCAL_CLUSTERS)
        return [dataclasses.replace(node, cluster=clusters.get(node.gpu_type, "")) for node in nodes]

    def _real_gpu_nodes(self) -> list[NodeInfo]:
        """One node named after this host with its NVIDIA GPUs, or [] when there are none."""
        now = time.monotonic()
        if self._real_gpus_cache and now - self._real_gpus_cache[0] < INVENTORY_CACHE_SECONDS:
            return self._real_gpus_cache[1]
        nodes = []
        gpus = self._query_nvidia_smi()
        if gpus:
            types = Counter(guess_gpu_type(name) for _index, name, _uuid in gpus)
            nodes = [
                NodeInfo(
                    name=_host_node_name(),
                    gpu_type=types.most_common(1)[0][0],
                    gpu_count=len(gpus),
                    gpu_uuids=tuple(uuid for _index, _name, uuid in gpus),
                )
            ]
        self._real_gpus_cache = (now, nodes)
        return nodes

    def _query_nvidia_smi(self) -> list[tuple[int, str, str]]:
        binary = self.nvidia_smi and shutil.which(self.nvidia_smi)
        if not binary:
            return []
        try:
            result = subprocess.run(
                [binary, "--query-gpu=index,name,uuid", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if result.returncode != 0:
            return []
        gpus = []
        for line in result.stdout.splitlines():
            parts = [part.strip() for part in line.split(",")]
            if len(parts) == 3 and parts[0].isdigit():
                gpus.append((int(parts[0]), parts[1], parts[2]))
        return sorted(gpus)

    # --- bind -------------------------------------------------------------------------------------

    def bind(self, spec: JobSpec) -> None:
        self._check_spec(spec)
        job_dir = self._job_dir(spec.job_id)
        job_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked(job_dir):
            previous = self._current_run(job_dir)
            if previous is not None:
                if self._job_status(spec.job_id, previous).phase not in {Phase.STOPPED, Phase.LOST}:
                    return  # already bound: binding again does nothing
                self._kill_leftovers(previous)
            self._check_placement(spec)
            real_gpus = {node.name: node for node in self._real_gpu_nodes()}
            run_dir = job_dir / layout.run_name(_last_run_number(job_dir) + 1)
            run_dir.mkdir(mode=0o700)
            uid = None
            if self.sandboxed:
                try:
                    uid = self._uids.acquire(spec.job_id, str(run_dir), self._lease_in_use)
                except NoFreeUid as error:
                    shutil.rmtree(run_dir, ignore_errors=True)
                    raise BindError(str(error)) from error
            self._write_run(run_dir, spec, real_gpus, uid)
            write_json_atomic(job_dir / layout.CURRENT, {"run": run_dir.name})
            try:
                with local_netns.job_network() if self.sandboxed else nullcontext() as network:
                    for rank in range(len(spec.pods)):
                        self._start_runner(run_dir, rank, network)
            except (OSError, subprocess.SubprocessError) as error:
                self._abandon_run(job_dir, run_dir, previous)
                raise BindError(f"could not start the local runner: {error}") from error
            for old_run in job_dir.glob(f"{layout.RUN_PREFIX}*"):
                if old_run != run_dir:
                    shutil.rmtree(old_run, ignore_errors=True)

    def _check_spec(self, spec: JobSpec) -> None:
        if not _JOB_ID.match(spec.job_id):
            raise BindError(f"job id {spec.job_id!r} is not usable as a directory name")
        if not spec.command or not spec.command[0]:
            raise BindError("the job has no command to run")
        if not spec.pods:
            raise BindError("the job has no pods")
        if [pod.rank for pod in spec.pods] != list(range(len(spec.pods))):
            raise BindError("pod ranks must be 0, 1, … in order")
        if spec.max_runtime_seconds <= 0:
            raise BindError("max_runtime_seconds must be positive")

    def _check_placement(self, spec: JobSpec) -> None:
        nodes = {node.name: node for node in self.inventory()}
        for pod in spec.pods:
            node = nodes.get(pod.node)
            if node is None:
                raise BindError(f"no local node {pod.node!r} (this machine has {sorted(nodes)})")
            if any(index < 0 or index >= node.gpu_count for index in pod.gpu_indices):
                raise BindError(f"node {pod.node} has GPUs 0–{node.gpu_count - 1}, not {pod.gpu_indices}")

    def _write_run(
        self, run_dir: Path, spec: JobSpec, real_gpus: dict[str, NodeInfo], uid: int | None
    ) -> None:
        # a session works in its owner's workspace, kept from one session to the next; a job in its run's
        work = self.workspace(spec.workspace) if spec.workspace else run_dir / "work"
        work.mkdir(mode=0o700, parents=True, exist_ok=bool(spec.workspace))
        checkpoints = run_dir.parent / layout.CHECKPOINTS
        checkpoints.mkdir(mode=0o700, exist_ok=True)
        now = time.time()
        master_port = _free_port()
        job_gpus = sum(len(pod.gpu_indices) for pod in spec.pods)
        hostnames = [f"rank-{pod.rank}" for pod in spec.pods]
        sockets = self._session_sockets(spec, uid) if spec.workspace else None
        shared = self._sandbox_files(run_dir, work, checkpoints, uid, hostnames) if uid is not None else []
        command = list(spec.command)
        if sockets is not None:
            inside = SANDBOX_SESSION_DIR if uid is not None else str(sockets)
            command = [part.replace(SESSION_SOCKET, f"{inside}/{SESSION_SOCKET_FILE}") for part in command]
            if uid is not None:
                shared.append(local_sandbox.Bind(str(sockets), SANDBOX_SESSION_DIR, writable=True))
        ranks = []
        for pod in spec.pods:
            node = real_gpus.get(pod.node)
            gpus = ",".join(str(index) for index in pod.gpu_indices)
            job_env = {
                **{str(key): str(value) for key, value in spec.environment.items()},
                "CUDA_VISIBLE_DEVICES": gpus if node else "",
                "WORLD_SIZE": str(len(spec.pods)),
                "RANK": str(pod.rank),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(master_port),
                "GPUGRANT_JOB_ID": spec.job_id,
                **spec.secrets,
            }
            if node:
                job_env.pop("GPUGRANT_SIMULATED_GPUS", None)
            else:
                job_env["GPUGRANT_SIMULATED_GPUS"] = gpus
            rank = {"node": pod.node, "gpu_indices": list(pod.gpu_indices)}
            if uid is None:
                rank["env"] = {
                    **{key: os.environ[key] for key in _ENV_PASSED_THROUGH if key in os.environ},
                    **job_env,
                    "GPUGRANT_WORKDIR": str(work),
                    "GPUGRANT_CHECKPOINT_DIR": str(checkpoints),
                }
            else:
                if node:
                    # By uuid: inside, CUDA may number the few GPUs it can open from 0.
                    job_env["CUDA_VISIBLE_DEVICES"] = ",".join(node.gpu_uuids[i] for i in pod.gpu_indices)
                rank["env"] = local_sandbox.sandbox_environment(
                    passed={key: os.environ[key] for key in _ENV_PASSED_INTO_SANDBOX if key in os.environ},
                    path=local_sandbox.sandbox_path(local_sandbox_host.python_bins()),
                    job=job_env,
                )
                rank["sandbox"] = self._rank_sandbox(
                    pod, node, uid, hostnames[pod.rank], shared, job_gpus, len(spec.pods)
                )
            ranks.append(rank)
        write_json_atomic(
            run_dir / layout.SPEC,
            {
                "job_id": spec.job_id,
                "image": spec.image,  # recorded, not pulled
                "command": command,
                "ranks": ranks,
                "workdir": str(work),
                "bound_at": now,
                "deadline": now + spec.max_runtime_seconds,
                "max_runtime_seconds": spec.max_runtime_seconds,
                "stop_grace_seconds": self.stop_grace_seconds,
                "log_limit_bytes": self.log_limit_bytes or settings.GPUGRANT_LOG_LIMIT_BYTES,
                "real_gpus": bool(real_gpus),
            },
        )

    def _sandbox_files(
        self, run_dir: Path, work: Path, checkpoints: Path, uid: int, hostnames: list[str]
    ) -> list:
        """The run's folders given to the job's uid, its /etc files; returns the binds every rank shares."""
        tmp = run_dir / "tmp"
        tmp.mkdir(mode=0o700)
        etc = run_dir / "etc"
        etc.mkdir(mode=0o755)
        for name, text in local_sandbox.etc_files(uid=uid, hostnames=hostnames).items():
            (etc / name).write_text(text)
        os.chown(tmp, uid, uid)
        # the uid differs from the last run's: the job's files (and a workspace's notebooks) follow it
        give_tree(work, uid)
        give_tree(checkpoints, uid)
        return local_sandbox.job_binds(
            workdir=str(work),
            checkpoints=str(checkpoints),
            tmp=str(tmp),
            etc={name: str(etc / name) for name in ("passwd", "group", "hosts")},
            shared=self._shared_paths,
        )

    def _rank_sandbox(
        self, pod, node: NodeInfo | None, uid: int, hostname: str, binds: list, job_gpus: int, ranks: int
    ) -> dict:
        limits = local_sandbox.rank_limits(
            rank_gpus=len(pod.gpu_indices),
            job_gpus=job_gpus,
            ranks=ranks,
            memory_mb_per_gpu=settings.GPUGRANT_LOCAL_MEMORY_MB_PER_GPU,
            processes_per_gpu=settings.GPUGRANT_LOCAL_PROCESSES_PER_GPU,
            open_files=settings.GPUGRANT_LOCAL_OPEN_FILES,
        )
        launch = local_sandbox.bwrap_launch(
            bwrap=local_sandbox_host.bwrap_binary() or settings.GPUGRANT_LOCAL_SANDBOX_BWRAP,
            uid=uid,
            hostname=hostname,
            binds=binds,
            symlinks=self._root_links,
            gpu_indices=pod.gpu_indices if node else (),  # simulated GPUs have no device nodes
            shm_bytes=settings.GPUGRANT_LOCAL_SHM_MB * local_sandbox.MIB,
        )
        return {
            "argv": launch.argv,
            "stage": launch.stage,
            "stage_root": local_sandbox.STAGE_ROOT,
            "exec": [sys.executable, "-I", "-S", local_exec.__file__],
            "uid": uid,
            "limits": limits.rlimits(),
        }

    def _lease_in_use(self, lease: dict) -> bool:
        """Whether the run a uid was leased to may still start or run processes as it."""
        run_dir = Path(lease.get("run", ""))
        try:
            made = run_dir.stat().st_mtime
        except OSError:
            return False  # the run was replaced and deleted
        spec = read_json(run_dir / layout.SPEC)
        if spec is None:
            return time.time() - made < RUNNER_START_SECONDS  # being bound (the lease comes first)
        phases = [self._rank_state(run_dir, rank, spec).phase for rank in range(len(spec["ranks"]))]
        return any(phase in {Phase.PENDING, Phase.RUNNING} for phase in phases)

    def _start_runner(self, run_dir: Path, rank: int, network: int | None = None) -> None:
        """Start the runner and wait for its first process, which records the detached one and exits.

        ``network``: the job's network namespace (an fd), which the runner joins before it starts the rank.
        """
        arguments = [sys.executable, "-I", local_runner.__file__, str(run_dir), str(rank)]
        with open(layout.runner_stderr_file(run_dir, rank), "ab") as stderr:
            starter = subprocess.Popen(
                arguments if network is None else [*arguments, str(network)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=run_dir,
                start_new_session=True,  # no signal aimed at the worker's group reaches the job
                pass_fds=() if network is None else (network,),
                # The runner needs none of the worker's environment, and so holds none of its secrets.
                env={key: os.environ[key] for key in _ENV_PASSED_THROUGH if key in os.environ},
            )
        if starter.wait(timeout=30) != 0 or read_json(layout.runner_file(run_dir, rank)) is None:
            raise subprocess.SubprocessError(f"runner for rank {rank} did not start (see {stderr.name})")

    def _abandon_run(self, job_dir: Path, run_dir: Path, previous: Path | None) -> None:
        """Undo a bind that failed half-way, so that the scheduler can requeue and bind again.

        Runners that did start see stop.json and end their commands; the next bind deletes the run.
        """
        write_json_atomic(run_dir / layout.STOP, {"reason": "bind failed"})
        self._kill_leftovers(run_dir)
        if previous is None:
            (job_dir / layout.CURRENT).unlink(missing_ok=True)
        else:
            write_json_atomic(job_dir / layout.CURRENT, {"run": previous.name})

    # --- stop -------------------------------------------------------------------------------------

    def stop(self, job_id: str, reason: str) -> None:
        if not _JOB_ID.match(job_id):
            return
        job_dir = self._job_dir(job_id)
        if not job_dir.is_dir():
            return
        with self._locked(job_dir):
            run_dir = self._current_run(job_dir)
            if run_dir is None:
                return
            ranks = self._rank_count(run_dir)
            if all(read_json(layout.exit_file(run_dir, rank)) for rank in range(ranks)):
                return  # it already ended on its own; stopping it now changes nothing
            create_json_exclusive(run_dir / layout.STOP, {"reason": reason, "at": time.time()})
            self._stop_ranks(run_dir, ranks)

    def _stop_ranks(self, run_dir: Path, ranks: int) -> None:
        """SIGTERM every rank's group now (runners escalate after the grace); SIGKILL what is left after."""
        for rank in range(ranks):
            local_runner.signal_group(read_json(layout.child_file(run_dir, rank)), signal.SIGTERM)
        give_up = time.monotonic() + self.stop_grace_seconds + 2.0
        while time.monotonic() < give_up and not all(self._rank_done(run_dir, r) for r in range(ranks)):
            time.sleep(0.05)
        self._kill_leftovers(run_dir)

    def _rank_done(self, run_dir: Path, rank: int) -> bool:
        """It wrote its exit record, or its runner is gone and so is every process of its command."""
        if layout.exit_file(run_dir, rank).exists():
            return True
        runner = read_json(layout.runner_file(run_dir, rank))
        if runner and process_alive(runner["pid"], runner["identity"]):
            return False
        return not local_runner.group_exists(read_json(layout.child_file(run_dir, rank)))

    def _kill_leftovers(self, run_dir: Path) -> None:
        """SIGKILL the commands of ranks that have no exit record (their runner died or is stuck)."""
        for rank in range(self._rank_count(run_dir)):
            if not layout.exit_file(run_dir, rank).exists():
                local_runner.signal_group(read_json(layout.child_file(run_dir, rank)), signal.SIGKILL)

    # --- statuses ---------------------------------------------------------------------------------

    def owned_job_ids(self) -> set[str]:
        """Jobs with a run directory whose run has not ended."""
        if not self.root.is_dir():
            return set()
        ids = [entry.name for entry in self.root.iterdir() if _JOB_ID.match(entry.name)]
        return {s.job_id for s in self.statuses(ids) if s.phase in (Phase.PENDING, Phase.RUNNING)}

    def statuses(self, job_ids: list[str]) -> list[JobStatus]:
        found = []
        for job_id in job_ids:
            if not _JOB_ID.match(job_id):
                continue
            run_dir = self._current_run(self._job_dir(job_id))
            if run_dir is not None:
                found.append(self._job_status(job_id, run_dir))
        return found

    def _job_status(self, job_id: str, run_dir: Path) -> JobStatus:
        stop = read_json(run_dir / layout.STOP)
        if stop is not None:
            return JobStatus(job_id, Phase.STOPPED, stop.get("reason", ""))
        spec = read_json(run_dir / layout.SPEC)
        if spec is None:
            return JobStatus(job_id, Phase.PENDING, "being bound")
        ranks = [self._rank_state(run_dir, rank, spec) for rank in range(len(spec["ranks"]))]
        several = len(ranks) > 1

        def status(rank: int) -> JobStatus:
            state = ranks[rank]
            reason = f"rank {rank}: {state.reason}" if several and state.reason else state.reason
            return JobStatus(job_id, state.phase, reason, state.exit_code)

        for rank, state in enumerate(ranks):
            if state.phase == Phase.TIMED_OUT:
                return status(rank)
        failed = [rank for rank, state in enumerate(ranks) if state.phase == Phase.FAILED]
        if failed:
            abort = read_json(run_dir / layout.ABORT)
            root_cause = abort["rank"] if abort and abort.get("rank") in failed else failed[0]
            return status(root_cause)
        if all(state.phase == Phase.SUCCEEDED for state in ranks):
            return JobStatus(job_id, Phase.SUCCEEDED, "", 0)
        for rank, state in enumerate(ranks):
            if state.phase == Phase.LOST:
                return status(rank)
        if any(state.phase in {Phase.RUNNING, Phase.SUCCEEDED} for state in ranks):
            return JobStatus(job_id, Phase.RUNNING)
        return JobStatus(job_id, Phase.PENDING)

    def _rank_state(self, run_dir: Path, rank: int, spec: dict) -> _RankState:
        exit_record = read_json(layout.exit_file(run_dir, rank))
        if exit_record is None:
            runner = read_json(layout.runner_file(run_dir, rank))
            if runner is None:
                if time.time() - spec["bound_at"] < RUNNER_START_SECONDS:
                    return _RankState(Phase.PENDING)
                return _RankState(Phase.LOST, "its runner never started")
            if process_alive(runner["pid"], runner["identity"]):
                return _RankState(Phase.RUNNING)
            # The runner writes its exit record and then exits: look again before calling it lost.
            exit_record = read_json(layout.exit_file(run_dir, rank))
            if exit_record is None:
                return _RankState(Phase.LOST, _RUNNER_VANISHED)
        outcome, exit_code = exit_record["outcome"], exit_record["exit_code"]
        phase = {
            "timed_out": Phase.TIMED_OUT,
            "stopped": Phase.STOPPED,
            "terminated": Phase.LOST,
        }.get(outcome, Phase.SUCCEEDED if outcome == "exited" and exit_code == 0 else Phase.FAILED)
        return _RankState(phase, exit_record["reason"], exit_code, outcome)

    # --- logs -------------------------------------------------------------------------------------

    def logs(self, job_id: str, limit_bytes: int) -> str:
        if not _JOB_ID.match(job_id) or limit_bytes <= 0:
            return ""
        run_dir = self._current_run(self._job_dir(job_id))
        if run_dir is None:
            return ""
        spec = read_json(run_dir / layout.SPEC) or {"ranks": [], "log_limit_bytes": 0}
        # The runner keeps up to twice the limit on disk; what is promised is the last log_limit_bytes.
        kept = spec["log_limit_bytes"]
        outputs = [_read_log(run_dir, rank)[-kept:] for rank in range(len(spec["ranks"]))]
        if len(outputs) == 1:
            return _decode_tail(outputs[0], limit_bytes)
        headers = [f"==> rank {rank} <==\n" for rank in range(len(outputs))]
        # Each rank costs its header and possibly a closing newline; the rest is shared out.
        budget = max(0, limit_bytes - sum(len(header) + 1 for header in headers))
        shares = _fair_shares([len(output) for output in outputs], budget)
        parts = []
        for header, output, share in zip(headers, outputs, shares, strict=True):
            text = _decode_tail(output, share)
            parts.append(header + text + ("\n" if text and not text.endswith("\n") else ""))
        return "".join(parts)

    # --- files ------------------------------------------------------------------------------------

    def checkpoint_dir(self, job_id: str) -> Path:
        """The job's folder that outlives its runs, on the host (GPUGRANT_CHECKPOINT_DIR inside).

        Files put here before the job is bound (a model to start from) are the job's when it runs.
        """
        if not _JOB_ID.match(job_id):
            raise ValueError(f"job id {job_id!r} is not usable as a directory name")
        job_dir = self._job_dir(job_id)
        job_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (job_dir / layout.CHECKPOINTS).mkdir(exist_ok=True, mode=0o700)
        return job_dir / layout.CHECKPOINTS

    def workspace(self, key: str) -> Path:
        """A session owner's persistent folder (organisation id / user id, both UUIDs)."""
        parts = key.split("/")
        if len(parts) != 2 or not all(_JOB_ID.match(part) for part in parts):
            raise BindError(f"not a workspace key: {key!r}")
        return self.root / "workspaces" / parts[0] / parts[1]

    def _session_sockets(self, spec: JobSpec, uid: int | None) -> Path:
        """A fresh, short folder on the host for the session's socket, its uid's alone."""
        folder = Path(settings.GPUGRANT_SESSION_SOCKET_DIR) / spec.job_id
        shutil.rmtree(folder, ignore_errors=True)  # a socket of an earlier run of this job
        folder.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
        if uid is not None:
            os.chown(folder, uid, uid)
        return folder

    def session_endpoint(self, job_id: str) -> str | None:
        """The UNIX socket a running session's JupyterLab listens on, once it does."""
        if not _JOB_ID.match(job_id):
            return None
        socket = Path(settings.GPUGRANT_SESSION_SOCKET_DIR) / job_id / SESSION_SOCKET_FILE
        return str(socket) if socket.is_socket() else None

    def _job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def _current_run(self, job_dir: Path) -> Path | None:
        return layout.current_run(job_dir)

    def _rank_count(self, run_dir: Path) -> int:
        spec = read_json(run_dir / layout.SPEC)
        return 0 if spec is None else len(spec["ranks"])

    @contextmanager
    def _locked(self, job_dir: Path):
        with open(job_dir / layout.LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


# --- helpers --------------------------------------------------------------------------------------


def sandbox_unavailable_reason() -> str:
    """'' where jobs run sandboxed; else why not (GPUGRANT_LOCAL_SANDBOX=off, or what this machine lacks)."""
    if settings.GPUGRANT_LOCAL_SANDBOX == "off":
        return "GPUGRANT_LOCAL_SANDBOX=off"
    return local_sandbox_host.unavailable_reason()


def give_tree(path: Path, uid: int) -> None:
    """chown a folder and all in it to ``uid``, never following a link the job may have left there."""
    os.chown(path, uid, uid, follow_symlinks=False)
    for _folder, folders, files, folder_fd in os.fwalk(path, follow_symlinks=False):
        for name in folders + files:
            os.chown(name, uid, uid, dir_fd=folder_fd, follow_symlinks=False)


def local_clusters(setting: str) -> dict[str, str]:
    """``"A100=north-1,H100=south-1"`` → GPU type → the registered cluster its local GPUs belong to."""
    clusters = {}
    for item in setting.split(","):
        if not item.strip():
            continue
        gpu_type, sep, cluster = item.strip().partition("=")
        if not sep or not gpu_type.strip() or not cluster.strip():
            raise ValueError(
                f"GPUGRANT_LOCAL_CLUSTERS items look like 'A100=cluster-a', not {item.strip()!r}"
            )
        clusters[gpu_type.strip()] = cluster.strip()
    return clusters


def simulated_nodes(gpu_counts: str) -> list[NodeInfo]:
    """``"A100:4,H100:4"`` → nodes local-a100 (4 × A100) and local-h100 (4 × H100), with fake uuids."""
    nodes = []
    for item in gpu_counts.split(","):
        if not item.strip():
            continue
        gpu_type, _, count = item.strip().partition(":")
        if not gpu_type or not count.strip().isdigit():
            raise ValueError(f"GPUGRANT_LOCAL_GPUS items look like 'A100:4', not {item.strip()!r}")
        name = f"local-{gpu_type.strip().lower()}"
        nodes.append(
            NodeInfo(
                name=name,
                gpu_type=gpu_type.strip(),
                gpu_count=int(count),
                gpu_uuids=tuple(f"SIMULATED-{name}-{index}" for index in range(int(count))),
            )
        )
    return nodes


def guess_gpu_type(product_name: str) -> str:
    """``"NVIDIA H100 80GB HBM3"`` → ``"H100"``: the longest known type named in the product name."""
    upper = product_name.upper().replace("-", " ")
    for gpu_type in sorted(settings.GPUGRANT_GPU_TYPES, key=len, reverse=True):
        if re.search(rf"\b{re.escape(gpu_type.upper())}\b", upper):
            return gpu_type
    words = []
    for word in upper.split():
        if word not in {"NVIDIA", "TESLA", "GEFORCE"}:
            words.append(word)
            if any(character.isdigit() for character in word):
                break
    return "".join(words) or "UNKNOWN"


def _host_node_name() -> str:
    return re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()) or "localhost"


def _last_run_number(job_dir: Path) -> int:
    numbers = [layout.run_number(run.name) for run in job_dir.glob(f"{layout.RUN_PREFIX}*")]
    return max((number for number in numbers if number is not None), default=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_log(run_dir: Path, rank: int) -> bytes:
    """Older part first; the runner keeps at most two files (see local_runner.BoundedLog)."""
    data = b""
    log = layout.log_file(run_dir, rank)
    for path in (layout.rotated(log), log):
        try:
            data += path.read_bytes()
        except FileNotFoundError:
            pass
    return data


def _decode_tail(data: bytes, limit_bytes: int) -> str:
    if limit_bytes <= 0:
        return ""
    tail = data[-limit_bytes:]
    if len(tail) < len(data):
        tail = tail.lstrip(bytes(range(0x80, 0xC0)))  # don't start inside a UTF-8 character
    return tail.decode("utf-8", errors="replace")


def _fair_shares(sizes: list[int], budget: int) -> list[int]:
    """Split ``budget`` bytes between outputs: each gets an equal share, short ones give back the rest."""
    shares = [0] * len(sizes)
    remaining = budget
    pending = sorted(range(len(sizes)), key=lambda index: sizes[index])
    while pending:
        share = remaining // len(pending)
        index = pending.pop(0)
        shares[index] = min(sizes[index], share)
        remaining -= shares[index]
    return shares
