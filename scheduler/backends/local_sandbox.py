"""The sandbox of one local-backend rank, as data: bubblewrap's arguments, the job's environment, its limits.

Pure functions (no I/O), so that every rule is table-tested; local_sandbox_host.py finds the host's
paths, local_launch.py (in the runner) carries the result out. What a job sees:

    /usr, /bin, /lib…, a few /etc files   read-only, from the host (the environment's files)
    the Python prefix, the venv, code     read-only (the interpreter jobs run and the project's packages)
    /job/work                             its run's workspace, read-write, owned by the job's uid
    /job/checkpoints                      its own folder that outlives the run (requeue, preemption)
    /tmp                                  the run's own folder on disk
    /etc/passwd, /etc/group, /etc/hosts   written for the job (its uid, its hostname)
    /proc, /dev                           its own PID namespace's /proc; a minimal /dev (null, zero, …),
                                          a size-limited /dev/shm, and only its own GPUs' device nodes

Nothing else of the host exists in it: not VAR_DIR (database file, secret key, node keys, agent spool,
other jobs' runs), not /var, /home, /root, /run. Every bind is staged by the runner (see local_launch.py):
bubblewrap runs as the job's unprivileged uid, which could not reach the service's root-only folders.
"""

import posixpath
from dataclasses import dataclass

WORKDIR = "/job/work"
CHECKPOINT_DIR = "/job/checkpoints"
STAGE_ROOT = "/run"  # where the runner mounts the staged sources, in a mount namespace of its own
JOB_USER = "job"
MIB = 1024 * 1024
# Processes a rank's sandbox itself adds to the job's uid: bubblewrap outside, its init inside.
SANDBOX_PROCESSES_PER_RANK = 2
# The NVIDIA nodes every CUDA process opens besides its GPUs' own; absent ones are skipped.
NVIDIA_CONTROL_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")


@dataclass(frozen=True)
class Bind:
    source: str  # host path
    dest: str  # path inside the sandbox
    writable: bool = False


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits (setrlimit) of every process of a rank."""

    memory_bytes: int  # RLIMIT_DATA: heap and private writable mappings
    processes: int  # RLIMIT_NPROC: counted per uid, so per job (every rank of a job has its uid)
    open_files: int  # RLIMIT_NOFILE

    def rlimits(self) -> dict[str, int]:
        """Names of the ``resource`` module's constants → the soft and hard limit (equal: jobs cannot raise them)."""
        return {
            "RLIMIT_DATA": self.memory_bytes,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,  # a core dump is the job's memory written where nobody asked for it
        }


def rank_limits(
    *,
    rank_gpus: int,
    job_gpus: int,
    ranks: int,
    memory_mb_per_gpu: int,
    processes_per_gpu: int,
    open_files: int,
) -> Limits:
    """A rank's limits from the job's request: memory per GPU of the rank, processes per GPU of the job.

    A job without GPUs counts as one GPU. RLIMIT_NPROC is checked against every process of the uid, and
    all ranks of a job share one uid, so the process limit covers the whole job and each rank's sandbox.
    """
    return Limits(
        memory_bytes=memory_mb_per_gpu * MIB * max(1, rank_gpus),
        processes=processes_per_gpu * max(1, job_gpus) + SANDBOX_PROCESSES_PER_RANK * ranks,
        open_files=open_files,
    )


def gpu_devices(gpu_indices: tuple[int, ...] | list[int]) -> list[str]:
    """The device nodes of the rank's own GPUs (``/dev/nvidiaN`` is GPU N, as nvidia-smi numbers them)."""
    return [f"/dev/nvidia{index}" for index in sorted(gpu_indices)]


def covers(outer: str, inner: str) -> bool:
    """Whether path ``inner`` is ``outer`` or lies under it."""
    outer, inner = posixpath.normpath(outer), posixpath.normpath(inner)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def exposed_service_state(sources: list[str], forbidden: list[str]) -> list[str]:
    """The shared read-only sources that would show the service's state: inside it, or holding it."""
    return sorted(
        {source for source in sources for path in forbidden if covers(source, path) or covers(path, source)}
    )


def without_covered(binds: list[Bind]) -> list[Bind]:
    """Drop read-only binds that an earlier-listed read-only bind of the same tree already shows."""
    kept: list[Bind] = []
    for bind in binds:
        redundant = not bind.writable and any(
            not other.writable
            and other.source == other.dest
            and bind.source == bind.dest
            and covers(other.source, bind.source)
            for other in kept
        )
        if not redundant and bind not in kept:
            kept.append(bind)
    return kept


@dataclass(frozen=True)
class Launch:
    """What the runner needs: bubblewrap's arguments up to ``--``, and the host paths to stage for it."""

    argv: list[str]
    stage: list[str]  # stage[i] is mounted at STAGE_ROOT/i before bubblewrap starts


def bwrap_launch(
    *,
    bwrap: str,
    uid: int,
    hostname: str,
    binds: list[Bind],
    symlinks: list[tuple[str, str]],
    gpu_indices: tuple[int, ...] | list[int] = (),
    shm_bytes: int,
) -> Launch:
    """bubblewrap's arguments for one rank: its namespaces, its mounts, its devices.

    The network namespace is not bubblewrap's to make: the runner has joined the job's own already, so
    that the ranks of one job reach each other on 127.0.0.1 and nothing else.
    """
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",  # no nested user namespaces: no route back to capabilities
        "--die-with-parent",  # the runner gone (killed, crashed): so is every process of the sandbox
        "--uid",
        str(uid),
        "--gid",
        str(uid),
        "--hostname",
        hostname,
    ]
    stage: list[str] = []
    for bind in sorted(without_covered(binds), key=lambda bind: (bind.dest.count("/"), bind.dest)):
        argv += ["--bind" if bind.writable else "--ro-bind", f"{STAGE_ROOT}/{len(stage)}", bind.dest]
        stage.append(bind.source)
    for target, link in symlinks:
        argv += ["--symlink", target, link]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(shm_bytes), "--tmpfs", "/dev/shm"]
    if gpu_indices:
        for device in gpu_devices(gpu_indices):
            argv += ["--dev-bind", device, device]  # a GPU the job was given must be there: no -try
        for device in NVIDIA_CONTROL_DEVICES:
            argv += ["--dev-bind-try", device, device]
        argv += ["--ro-bind", "/sys", "/sys"]  # NVML and NCCL read the PCI topology there
    # /dev and / are bubblewrap's own tmpfs, in RAM that no rlimit counts: read-only once set up.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORKDIR, "--"]
    return Launch(argv, stage)


def job_binds(
    *, workdir: str, checkpoints: str, tmp: str, etc: dict[str, str], shared: list[str]
) -> list[Bind]:
    """The rank's binds: its own folders read-write, the generated /etc files and the shared paths read-only."""
    return [
        *(Bind(path, path) for path in shared),
        *(Bind(source, f"/etc/{name}") for name, source in sorted(etc.items())),
        Bind(workdir, WORKDIR, writable=True),
        Bind(checkpoints, CHECKPOINT_DIR, writable=True),
        Bind(tmp, "/tmp", writable=True),
    ]


def etc_files(*, uid: int, hostnames: list[str]) -> dict[str, str]:
    """/etc/passwd, /etc/group and /etc/hosts for the job: its own user, and its ranks' names on loopback."""
    return {
        "passwd": f"{JOB_USER}:x:{uid}:{uid}:gpugrant job:{WORKDIR}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": f"{JOB_USER}:x:{uid}:\nnogroup:x:65534:\n",
        "hosts": f"127.0.0.1\tlocalhost {' '.join(hostnames)}\n::1\tlocalhost ip6-localhost\n",
    }


def sandbox_environment(*, passed: dict[str, str], path: str, job: dict[str, str]) -> dict[str, str]:
    """The job's whole environment: nothing of the worker's but the locale and time zone.

    ``passed`` is what the worker may pass (LANG, LC_ALL, TZ); ``job`` is the job's own variables and
    gpugrant's (RANK, MASTER_ADDR, …), which win. The service's secrets (SECRET_KEY, DATABASE_URL, broker
    and Redis URLs, keys) never get in: the environment is built up, never filtered down.
    """
    return {
        **passed,
        "PATH": path,
        "HOME": WORKDIR,
        "TMPDIR": "/tmp",
        "USER": JOB_USER,
        "LOGNAME": JOB_USER,
        **job,
        "GPUGRANT_WORKDIR": WORKDIR,
        "GPUGRANT_CHECKPOINT_DIR": CHECKPOINT_DIR,
    }


def sandbox_path(python_bins: list[str]) -> str:
    """PATH inside: the service's Python first (``python`` is the interpreter that has numpy and gpugrant)."""
    system = ["/usr/local/bin", "/usr/bin", "/bin"]
    return ":".join(dict.fromkeys([*python_bins, *system]))
