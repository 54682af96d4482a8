"""A real Slurm on this machine, on loopback, reached through slurmrestd's REST API (issue 19).

The peer for the burst benchmark (``bench/burst.py``): the same 10,000 submissions, with the same
concurrency, sent to Slurm's own REST front end in the same run. Nothing of it is needed by the tests or
the demo; it needs root (it installs Debian's packages and starts slurmd, which must be root).

    .venv/bin/python -m bench.slurm_peer up         # start, print base_url and a curl; Ctrl-C stops it
    .venv/bin/python -m bench.slurm_peer check [--jobs 200] [--concurrency 50] [--nodes 64] [--threads 8]

``check`` starts it, submits ``jobs`` batch jobs through POST /slurm/v0.0.38/job/submit with ``concurrency``
requests in flight (httpx.AsyncClient), checks that every job is known to slurmctld exactly once by its
name, prints accepted/s, and tears everything down. ``SlurmPeer`` is the context manager both use.

What it runs. Debian bookworm's Slurm 22.05.8 (``slurmctld slurmd slurmrestd slurm-client munge``,
installed with apt-get when missing). Everything it writes is in a fresh temporary directory removed on
exit: slurm.conf, gres.conf, a munge key and munged's socket, a JWT key, StateSaveLocation, one spool
directory, PID file and log per slurmd, the daemons' logs. The daemons: its own munged (own key and socket,
so the system's munge, if any, is neither used nor disturbed), slurmctld (SlurmUser=root), one slurmd per
node and slurmrestd, all bound to 127.0.0.1 on ports found free, each in its own process group so that
teardown (also on an exception or Ctrl-C) kills them all. Jobs run as the system user ``slurmbench``
(created if missing), slurmrestd runs as that user too (it refuses root).

The nodes. ``gpu_nodes`` nodes ``gpu001...`` each with ``gpus_per_node`` GPUs (``Gres=gpu:8``; gres.conf
``AutoDetect=off``, ``Name=gpu File=<tmp>/dev/nvidia[0-7]``: 22.05's gres/gpu drops GPUs declared without
``File=`` ("Removing file-less GPU") and wants character devices, so these are placeholder device nodes
with /dev/null's numbers that nothing opens; acceptance is what is measured) and 64 CPUs / 512 GiB
declared (``SlurmdParameters=config_overrides``: the declared sizes are used, not this machine's).
Each node is a real slurmd (``slurmd -N gpuNNN``, its own ``Port=``, spool, PID file and log via ``%n``;
Debian's build runs several on one host) on 127.0.0.1, so all the GPUs are schedulable: the peer is
ready only when ``sinfo`` shows every node idle. A job asks for one GPU (``"gres": "gpu:1"``), 60
minutes, one task, and runs ``sleep 3600``: the first nodes×GPUs jobs start (one slurmstepd and one
sleep each, idle), the rest pend on GPUs, as on a full cluster. All daemons bind to 127.0.0.1 only
(``CommunicationParameters=NoCtldInAddrAny,NoInAddrAny``; slurmrestd's listen address).

Settings that matter for throughput (Slurm's high-throughput guide, and what a fair peer needs):

- ``SchedulerParameters=defer,max_rpc_cnt=64,batch_sched_delay=20,sched_min_interval=2000000``:
  ``defer`` stops slurmctld from trying to schedule each job at its submission (the main scheduler and
  backfill still run periodically), ``max_rpc_cnt`` makes the scheduler yield while that many RPCs are
  pending, ``batch_sched_delay`` lets the launch of batch jobs be delayed in a burst,
  ``sched_min_interval`` (µs) spaces main-scheduler runs: submissions get the locks first.
- ``MaxJobCount=50000`` (default 10,000 would refuse part of a 10,000-job burst plus leftovers),
  ``MinJobAge=300`` (finished records are purged after 5 minutes).
- ``SlurmctldDebug=error``, ``SlurmdDebug=error``: no per-RPC logging.
- ``AccountingStorageType=accounting_storage/none``, ``JobCompType=jobcomp/none``,
  ``JobAcctGatherType=jobacct_gather/none``: no slurmdbd, no per-job records written.
- ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``, ``MpiDefault=none``,
  ``SwitchType=switch/none``: nothing set up per job step beyond the fork (no cgroups needed).
- ``SelectType=select/cons_tres`` (``CR_Core``), ``GresTypes=gpu``: what GPU scheduling requires.
- ``PrologFlags`` unset, no prolog/epilog, ``MessageTimeout=30`` (the burst must not time out RPCs).
- slurmrestd ``-t THREADS`` (default here 8; slurmrestd's own default is 20): the threads that turn REST
  requests into RPCs to slurmctld; they mostly wait on slurmctld, so a few per core (this machine has 2)
  is enough. Measured here (500 jobs, concurrency 100, 64 nodes): ``-t`` 4, 8 and 20 gave 54, 49 and 51
  accepted/s, the same within the noise of a shared machine. ``-s openapi/v0.0.38`` (the newest 22.05
  serves; v0.0.36/37 also exist), ``-a rest_auth/jwt`` with ``SLURM_JWT=daemon``; slurm.conf
  ``AuthAltTypes=auth/jwt``, ``AuthAltParameters=jwt_key=...`` (32 random bytes, mode 0600); one token
  from ``scontrol token username=slurmbench lifespan=86400``, sent as ``X-SLURM-USER-NAME`` and
  ``X-SLURM-USER-TOKEN``. slurmrestd keeps its default logging (two info lines per request to its log
  file; ``SLURMRESTD_DEBUG`` = ``error``, ``0`` are refused and ``1``, ``2`` do not quiet them in 22.05).

Known limit: slurmrestd 22.05 stalls with about 1,000 connections open at once (here: 124 jobs created,
then none for 90 s, with ``-t 8`` and ``-t 20``; it went on creating jobs for connections the client had
closed, so a client that retries after a timeout makes duplicates). 250 and 500 connections were fine.
Figures and commands: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import re
import resource
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
# slurm-wlm-jwt-plugin: auth/jwt for slurmctld (slurmrestd's rest_auth/jwt comes with the basic plugins)
PACKAGES = ["slurmctld", "slurmd", "slurmrestd", "slurm-client", "munge", "slurm-wlm-jwt-plugin"]
COMMANDS = ["slurmctld", "slurmd", "slurmrestd", "scontrol", "squeue", "sinfo", "scancel", "munged"]
JOB_USER = "slurmbench"
OPENAPI = "v0.0.38"
CPUS_PER_NODE = 64
MEMORY_PER_NODE_MB = 512 * 1024
JOB_SCRIPT = "#!/bin/sh\nsleep 3600\n"
TOKEN_LIFESPAN_S = 24 * 3600

# The slurm.conf settings that affect throughput (the module docstring says why), reported by describe().
THROUGHPUT_SETTINGS = {
    "SchedulerType": "sched/backfill",
    "SchedulerParameters": "defer,max_rpc_cnt=64,batch_sched_delay=20,sched_min_interval=2000000",
    "SelectType": "select/cons_tres",
    "SelectTypeParameters": "CR_Core",
    "MaxJobCount": "50000",
    "MinJobAge": "300",
    "SlurmctldDebug": "error",
    "SlurmdDebug": "error",
    "AccountingStorageType": "accounting_storage/none",
    "JobCompType": "jobcomp/none",
    "JobAcctGatherType": "jobacct_gather/none",
    "ProctrackType": "proctrack/linuxproc",
    "TaskPlugin": "task/none",
    "MpiDefault": "none",
    "SwitchType": "switch/none",
    "MessageTimeout": "30",
}


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (held open together while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _raise_nofile() -> None:
    """Open files up to the hard limit in this process, so in the daemons it starts (a burst is many
    connections: 1,000 clients are 1,000 sockets in slurmrestd)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _run(args: list[str], env: dict | None = None, timeout: float = 60, check: bool = True) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


def _package_installed(name: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and done.stdout.endswith("installed")


def ensure_installed() -> None:
    """Debian's Slurm and munge, installed with apt-get (as root) if any command or package is missing."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if all(shutil.which(c, path=path) for c in COMMANDS) and all(map(_package_installed, PACKAGES)):
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            f"Slurm is not installed and installing it needs root: apt-get install {' '.join(PACKAGES)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        _run(["apt-get", "update", "-q"], env=env, timeout=600)
        _run(install, env=env, timeout=1200)


def ensure_user(name: str = JOB_USER) -> pwd.struct_passwd:
    """The unprivileged system user the jobs and slurmrestd run as (created if missing)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        _run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        )
        return pwd.getpwnam(name)


class SlurmPeer:
    """Context manager: installs what is missing (apt-get, as root), writes its configuration into a
    fresh temporary directory, starts munged, slurmctld, slurmd and slurmrestd on loopback, waits until a
    submission is accepted, and on exit stops them all and removes what it wrote (packages stay)."""

    def __init__(
        self,
        gpu_nodes: int = 64,
        gpus_per_node: int = 8,
        port: int | None = None,
        rest_threads: int = 8,
        ready_timeout: float = 180,
    ):
        if not 1 <= gpu_nodes <= 999:
            raise ValueError("gpu_nodes must be 1..999")
        self.gpu_nodes = gpu_nodes
        self.gpus_per_node = gpus_per_node
        self.port = port
        self.rest_threads = rest_threads
        self.ready_timeout = ready_timeout
        self.base_url = ""
        self.version = ""
        self.dir: Path | None = None
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._env: dict[str, str] = {}
        self._token = ""
        self._probe_ids: set[str] = set()
        self._saved_sigterm = None
        self._node_ports: list[int] = []
        self._node_names = [f"gpu{i:03d}" for i in range(1, gpu_nodes + 1)]

    # -- the interface the load generator uses ------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"X-SLURM-USER-NAME": JOB_USER, "X-SLURM-USER-TOKEN": self._token}

    def submit_path(self) -> str:
        return f"/slurm/{OPENAPI}/job/submit"

    def submit_body(self, n: int) -> dict:
        return self._job_body(f"burst-{n}")

    @staticmethod
    def accepted_job_id(status: int, body: dict) -> str | None:
        """The job id when slurmrestd answered 200 with a job id and no errors, else None."""
        if status != 200 or not isinstance(body, dict) or body.get("errors"):
            return None
        job_id = body.get("job_id")
        return str(job_id) if isinstance(job_id, int) and job_id > 0 else None

    def job_names(self) -> list[str]:
        """The names of every job slurmctld knows, in any state (``squeue --states=all``), one entry per
        job (so a duplicate shows twice); the readiness probes' jobs are left out."""
        out = _run(
            ["squeue", "--noheader", "--all", "--states=all", "--format=%i|%j"], env=self._env, timeout=300
        )
        names = []
        for line in out.splitlines():
            job_id, _, name = line.partition("|")
            if job_id.strip() not in self._probe_ids:
                names.append(name)
        return names

    def describe(self) -> dict:
        """Facts for the report; nodes, their states and GPUs as slurmctld reports them now (sinfo)."""
        nodes = self._sinfo_nodes()
        states: dict[str, int] = {}
        for state, _ in nodes.values():
            states[state] = states.get(state, 0) + 1
        return {
            "slurm": self.version,
            "base_url": self.base_url,
            "rest_api": f"slurmrestd, openapi/{OPENAPI}, rest_auth/jwt",
            "slurmrestd_threads": self.rest_threads,
            "nodes": len(nodes),
            "node_states": states,
            "gpus_per_node": self.gpus_per_node,
            "gpus": sum(gpus for _, gpus in nodes.values()),
            "node_layout": (
                f"{self.gpu_nodes} real slurmd processes (slurmd -N gpuNNN, one Port= each) on 127.0.0.1, "
                f"each declared CPUs={CPUS_PER_NODE} RealMemory={MEMORY_PER_NODE_MB} "
                f"Gres=gpu:{self.gpus_per_node} (SlurmdParameters=config_overrides); gres.conf "
                "AutoDetect=off, File= placeholder device nodes (22.05 drops file-less GPUs); all idle "
                "before the first submission"
            ),
            "job": f"batch, 1 task, gres gpu:1, 60 min, runs {JOB_SCRIPT.splitlines()[1]!r} as {JOB_USER}",
            "slurm_conf": dict(THROUGHPUT_SETTINGS),
            "host_cpus": os.cpu_count(),
        }

    # -- start and stop -------------------------------------------------------------------------------

    def __enter__(self) -> SlurmPeer:
        # While it is up, a SIGTERM (timeout, kill) raises KeyboardInterrupt, so that the with block
        # unwinds and tears everything down, unless the caller has its own handler.
        self._saved_sigterm = None
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                self._saved_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._start()
        except BaseException:
            self._stop()
            self._restore_sigterm()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._stop()
        finally:
            self._restore_sigterm()

    def _restore_sigterm(self) -> None:
        if self._saved_sigterm is not None:
            signal.signal(signal.SIGTERM, self._saved_sigterm)
            self._saved_sigterm = None

    def _start(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError(
                "SlurmPeer needs root (slurmd runs as root; packages are installed with apt-get)"
            )
        ensure_installed()
        user = ensure_user()
        _raise_nofile()
        self.version = _run(["slurmctld", "-V"]).split()[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="slurm-peer-"))
        self.dir.chmod(0o755)  # slurmrestd (as slurmbench) reads slurm.conf and reaches munged's socket
        ports = _free_ports(2 + self.gpu_nodes + (0 if self.port else 1))
        ctld_port, self._node_ports = ports[0], ports[2 : 2 + self.gpu_nodes]
        self.port = self.port or ports[-1]
        self.base_url = f"http://{HOST}:{self.port}"
        conf = self._write_config(ctld_port)
        self._env = dict(os.environ, SLURM_CONF=str(conf))
        for var in ("SLURM_JWT", "SLURM_JOB_ID"):
            self._env.pop(var, None)

        d = self.dir
        (d / "munge").mkdir(mode=0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        (d / "munge-run").mkdir(mode=0o755)
        self._spawn(
            "munged",
            [
                "munged", "--foreground", "--force", "--num-threads=4", f"--key-file={key}",
                f"--socket={d / 'munge-run' / 'munge.socket'}", f"--pid-file={d / 'munge' / 'munged.pid'}",
                f"--log-file={d / 'munge' / 'munged.log'}", f"--seed-file={d / 'munge' / 'munged.seed'}",
            ],
        )  # fmt: skip
        self._wait(lambda: (d / "munge-run" / "munge.socket").exists(), 30, "munged's socket")

        self._spawn("slurmctld", ["slurmctld", "-D", "-c", "-f", str(conf)])
        self._wait(self._ctld_up, 60, "slurmctld answering scontrol ping")
        for name in self._node_names:
            self._spawn(f"slurmd-{name}", ["slurmd", "-D", "-N", name, "-f", str(conf)])
        self._wait(self._all_idle, self.ready_timeout, f"sinfo showing all {self.gpu_nodes} nodes idle")

        token = _run(
            ["scontrol", "token", f"username={JOB_USER}", f"lifespan={TOKEN_LIFESPAN_S}"], env=self._env
        ).strip()
        self._token = token.partition("=")[2]
        rest_env = dict(self._env, SLURM_JWT="daemon", HOME=str(d))
        self._spawn(
            "slurmrestd",
            [
                "slurmrestd", "-f", str(conf), "-a", "rest_auth/jwt", "-s", f"openapi/{OPENAPI}",
                "-t", str(self.rest_threads), f"{HOST}:{self.port}",
            ],
            env=rest_env, user=user,
        )  # fmt: skip
        self._wait(self._probe_accepted, 60, "slurmrestd accepting a submission")

    def _spawn(self, name: str, args: list[str], env: dict | None = None, user=None) -> None:
        assert self.dir is not None
        log = open(self.dir / f"{name}.out", "ab")
        kwargs = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        proc = subprocess.Popen(
            args,
            env=env or self._env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.dir,
            **kwargs,
        )
        log.close()
        self._procs.append((name, proc))

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited {proc.returncode} while waiting for {what}: {self._tail(name)}"
                    )
            if ready():
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        raise TimeoutError(f"no {what} after {timeout:.0f} s")

    def _tail(self, name: str) -> str:
        assert self.dir is not None
        texts = []
        for path in (self.dir / f"{name}.out", self.dir / "log" / f"{name}.log"):
            if path.exists():
                texts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(texts) or "(no output)"

    def _ctld_up(self) -> bool:
        done = subprocess.run(["scontrol", "ping"], env=self._env, capture_output=True, text=True, timeout=30)
        return done.returncode == 0 and "UP" in done.stdout

    def _sinfo_nodes(self) -> dict[str, tuple[str, int]]:
        """Node name -> (state, GPUs) as sinfo reports them."""
        if not self._env:
            return {}
        out = _run(["sinfo", "--noheader", "--Node", "--format=%N %t %G"], env=self._env, check=False)
        nodes = {}
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 3:
                m = re.search(r"gpu(?::[^:(,]+)?:(\d+)", fields[2])
                nodes[fields[0]] = (fields[1], int(m.group(1)) if m else 0)
        return nodes

    def _all_idle(self) -> bool:
        nodes = self._sinfo_nodes()
        return len(nodes) == self.gpu_nodes and all(state == "idle" for state, _ in nodes.values())

    def _job_body(self, name: str) -> dict:
        return {
            "job": {
                "name": name,
                "partition": "gpu",
                "tasks": 1,
                "gres": "gpu:1",
                "time_limit": 60,
                "current_working_directory": "/tmp",
                "standard_output": "/dev/null",
                "standard_error": "/dev/null",
                "environment": {"PATH": "/usr/bin:/bin"},
            },
            "script": JOB_SCRIPT,
        }

    def _probe_accepted(self) -> bool:
        import httpx

        try:
            r = httpx.post(
                self.base_url + self.submit_path(),
                json=self._job_body("slurm-peer-probe"),
                headers=self.headers(),
                timeout=10,
            )
        except httpx.TransportError:
            return False
        try:
            body = r.json()
        except ValueError:
            body = {}
        job_id = self.accepted_job_id(r.status_code, body)
        if job_id is None:
            if r.status_code in (401, 403) or (r.status_code == 200 and body.get("errors")):
                raise RuntimeError(f"slurmrestd refused the probe: {r.status_code} {r.text[:500]}")
            return False
        self._probe_ids.add(job_id)
        _run(["scancel", job_id], env=self._env, check=False)
        return True

    def _write_config(self, ctld_port: int) -> Path:
        assert self.dir is not None
        d = self.dir
        for sub in ("state", "spool", "log", "run"):
            (d / sub).mkdir(mode=0o755)
        for name in self._node_names:
            (d / "spool" / name).mkdir(mode=0o755)
        jwt_key = d / "jwt.key"
        jwt_key.write_bytes(secrets.token_bytes(32))
        jwt_key.chmod(0o600)  # SlurmUser is root, who owns it
        lines = [
            "# written by bench/slurm_peer.py; removed on exit",
            "ClusterName=slurmpeer",
            f"SlurmctldHost=localhost({HOST})",
            f"SlurmctldPort={ctld_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={d / 'munge-run' / 'munge.socket'}",
            "CredType=cred/munge",
            "AuthAltTypes=auth/jwt",
            f"AuthAltParameters=jwt_key={jwt_key}",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool' / '%n'}",
            f"SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'run' / 'slurmd-%n.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'log' / 'slurmd-%n.log'}",
            "SlurmdParameters=config_overrides",
            "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",  # bind to 127.0.0.1, not 0.0.0.0
            "ReturnToService=2",
            "GresTypes=gpu",
            *(f"{k}={v}" for k, v in THROUGHPUT_SETTINGS.items()),
            "SlurmdTimeout=300",
            "InactiveLimit=0",
            "KillWait=5",
            "Waittime=0",
            "MailProg=/bin/true",
            "DefMemPerCPU=1024",
        ]
        for name, port in zip(self._node_names, self._node_ports, strict=True):
            lines.append(
                f"NodeName={name} NodeHostname=localhost NodeAddr={HOST} Port={port} CPUs={CPUS_PER_NODE} "
                f"RealMemory={MEMORY_PER_NODE_MB} Gres=gpu:{self.gpus_per_node} State=UNKNOWN"
            )
        lines.append("PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
        conf = d / "slurm.conf"
        conf.write_text("\n".join(lines) + "\n")
        # 22.05's gres/gpu drops GPUs without File= ("Removing file-less GPU"), and wants character
        # devices: placeholder device nodes with /dev/null's numbers, shared by all the nodes. Nothing
        # opens them (task/none, no cgroup device constraint); they only give the 8 GPUs their indexes.
        (d / "dev").mkdir(mode=0o755)
        for i in range(self.gpus_per_node):
            os.mknod(d / "dev" / f"nvidia{i}", 0o644 | stat.S_IFCHR, os.makedev(1, 3))
        files = (
            f"{d / 'dev'}/nvidia[0-{self.gpus_per_node - 1}]"
            if self.gpus_per_node > 1
            else d / "dev" / "nvidia0"
        )
        (d / "gres.conf").write_text(f"AutoDetect=off\nNodeName={self._hostlist()} Name=gpu File={files}\n")
        return conf

    def _hostlist(self) -> str:
        return f"gpu[001-{self.gpu_nodes:03d}]" if self.gpu_nodes > 1 else "gpu001"

    def _stop(self) -> None:
        """Cancel the jobs, stop every daemon's process group (slurmrestd, then slurmctld so that nothing
        new is launched, the slurmds, munged), sweep the job steps left (slurmstepd starts its own
        session), and remove the directory. Ctrl-C and SIGTERM are ignored meanwhile: a second Ctrl-C
        must not leave half of it running."""
        if not self._procs and self.dir is None:
            return
        in_main = threading.current_thread() is threading.main_thread()
        saved = (
            {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
            if in_main
            else {}
        )
        try:
            self._stop_all()
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def _stop_all(self) -> None:
        sessions = {proc.pid for _, proc in self._procs}
        ctld = [p for n, p in self._procs if n == "slurmctld"]
        if ctld and ctld[0].poll() is None:
            try:
                subprocess.run(
                    ["scancel", f"--user={JOB_USER}"], env=self._env, capture_output=True, timeout=30
                )
            except subprocess.TimeoutExpired:
                pass  # the sweep below kills the job steps anyway
        for kind in ("slurmrestd", "slurmctld", "slurmd", "munged"):
            group = [p for n, p in self._procs if n.startswith(kind)]
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for p in group:
                    if p.poll() is None:
                        try:
                            os.killpg(p.pid, sig)
                        except ProcessLookupError:
                            pass
                deadline = time.monotonic() + 10
                for p in group:
                    try:
                        p.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
                if all(p.poll() is not None for p in group):
                    break
        for _ in range(20):  # a slurmstepd being started may fork its job after a pass: until none is left
            if not self._sweep(sessions):
                break
            time.sleep(0.2)
        self._procs = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _sweep(self, sessions: set[int]) -> int:
        """Kill leftovers: processes in the daemons' sessions, job steps and jobs whose environment names
        our slurm.conf, and slurmstepds still starting (their working directory is ours). How many."""
        conf = f"SLURM_CONF={self._env.get('SLURM_CONF', '')}".encode()
        here = str(self.dir) if self.dir is not None else None
        mine = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if fields[0] == "Z":
                    continue
                sid = int(fields[3])
                environ = (entry / "environ").read_bytes().split(b"\0") if self._env else []
                cwd = os.readlink(entry / "cwd") if here else ""
            except (OSError, ValueError, IndexError):
                continue
            if sid in sessions or conf in environ or (here and (cwd == here or cwd.startswith(here + "/"))):
                mine.append(int(entry.name))
        for pid in mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(mine)


# -- the script ----------------------------------------------------------------------------------------


async def _burst(peer: SlurmPeer, jobs: int, concurrency: int) -> dict:
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    accepted: dict[int, str] = {}
    statuses: dict[str, int] = {}
    retries = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=peer.base_url, headers=peer.headers(), limits=limits, timeout=120
    ) as c:

        async def one(n: int) -> None:
            nonlocal retries
            async with semaphore:
                for attempt in range(20):
                    try:
                        r = await c.post(peer.submit_path(), json=peer.submit_body(n))
                        key = str(r.status_code)
                        try:
                            body = r.json()
                        except ValueError:
                            body = {}
                    except httpx.TransportError as e:
                        key, body, r = type(e).__name__, {}, None
                    statuses[key] = statuses.get(key, 0) + 1
                    job_id = peer.accepted_job_id(r.status_code if r is not None else 0, body)
                    if job_id is not None:
                        accepted[n] = job_id
                        return
                    retries += 1
                    await asyncio.sleep(min(0.1 * 2**attempt, 5))

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(jobs)))
        elapsed = time.perf_counter() - started
    return {"accepted": len(accepted), "elapsed_s": elapsed, "statuses": statuses, "retries": retries}


def _check(args: argparse.Namespace) -> int:
    with SlurmPeer(gpu_nodes=args.nodes, gpus_per_node=args.gpus_per_node, rest_threads=args.threads) as peer:
        print(f"slurm {peer.version} up at {peer.base_url}", flush=True)
        result = asyncio.run(_burst(peer, args.jobs, args.concurrency))
        names = peer.job_names()
        expected = {f"burst-{n}" for n in range(args.jobs)}
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        lost = sorted(expected - counts.keys())
        duplicated = sorted(n for n, c in counts.items() if c > 1)
        unexpected = sorted(counts.keys() - expected)
        facts = peer.describe()
        rate = result["accepted"] / result["elapsed_s"]
        print(json.dumps({"describe": facts, **result, "accepted_per_s": round(rate, 1)}, indent=2))
        print(
            f"{result['accepted']}/{args.jobs} accepted in {result['elapsed_s']:.2f} s = {rate:.1f} "
            f"accepted/s (concurrency {args.concurrency}, {facts['nodes']} nodes, {facts['gpus']} GPUs); "
            f"known to slurmctld: {len(names)}, lost {len(lost)}, duplicated {len(duplicated)}, "
            f"unexpected {len(unexpected)}"
        )
        ok = result["accepted"] == args.jobs and not lost and not duplicated and not unexpected
        if not ok:
            print(f"FAILED: lost {lost[:10]} duplicated {duplicated[:10]} unexpected {unexpected[:10]}")
        return 0 if ok else 1


def _up(args: argparse.Namespace) -> int:
    with SlurmPeer(gpu_nodes=args.nodes, gpus_per_node=args.gpus_per_node, rest_threads=args.threads) as peer:
        h = peer.headers()
        print(f"slurm {peer.version} up at {peer.base_url} ({peer.dir})")
        print(json.dumps(peer.describe(), indent=2))
        print(
            f"curl -s -H 'X-SLURM-USER-NAME: {h['X-SLURM-USER-NAME']}' -H 'X-SLURM-USER-TOKEN: "
            f"{h['X-SLURM-USER-TOKEN']}' -H 'Content-Type: application/json' "
            f"-d '{json.dumps(peer.submit_body(0))}' {peer.base_url}{peer.submit_path()}"
        )
        print(
            f"SLURM_CONF={peer.dir}/slurm.conf squeue   # the command line; Ctrl-C stops and removes it all"
        )
        try:
            signal.pause()
        except KeyboardInterrupt:
            print("stopping")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slurm_peer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "check"):
        p = sub.add_parser(name)
        p.add_argument("--nodes", type=int, default=64)
        p.add_argument("--gpus-per-node", type=int, default=8)
        p.add_argument("--threads", type=int, default=8, help="slurmrestd -t")
        if name == "check":
            p.add_argument("--jobs", type=int, default=200)
            p.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill tears down as Ctrl-C does
    return _up(args) if args.command == "up" else _check(args)


if __name__ == "__main__":
    sys.exit(main())
