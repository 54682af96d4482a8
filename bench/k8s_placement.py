"""Benchmark: the same GPU jobs placed three ways on one real control plane (docs/benchmarks.md, section 7).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gpugrant \\
        .venv/bin/python -m bench.k8s_placement [--nodes 100] [--runs 3] [--json OUT]

One control plane from tests/cluster (etcd, kube-apiserver, controller manager, kube-scheduler, kwok; the
Kueue controller beside them) with ``--nodes`` kwok GPU nodes of 8 H100 each. The same seeded set of jobs
(single-GPU jobs, 2-node gangs and 4-node gangs of 8 GPUs per pod, together exactly the cluster's GPUs)
is placed, on an empty cluster each time, in turn by:

1. ``gpugrant``: the jobs are queued in gpugrant's database; its scheduling cycles (inventory, plan,
   claims in PostgreSQL, binds through the Kubernetes backend with the scheduler service account's token)
   run until no job is left queued. The backend creates each pod pinned to the planned node; the clock
   stops when the last pod is bound to its node.
2. ``kube-scheduler``: the same pods without a node, created by a client with as many threads as
   gpugrant binds jobs at once (GPUGRANT_K8S_BIND_CONCURRENCY, 16); kube-scheduler places them. No gang
   support: each pod is placed on its own.
3. ``kueue``: the same jobs as suspended batch/v1 Jobs (created by the same client) in a LocalQueue of a
   ClusterQueue whose GPU quota is the cluster's; Kueue admits each job's Workload whole (quota only), unsuspends it, and the Job
   controller and kube-scheduler then create and place its pods.

Rounds are interleaved (gpugrant, kube-scheduler, kueue, gpugrant, …); figures are medians of the runs.
Rules that give a policy information a user would not have: none — every policy sees only the jobs'
requests. Rules of the measurement: a run ends when every pod is bound (for Kueue: every Workload is
admitted, then every pod bound) or when nothing new happened for ``--stall`` seconds; "placements per
second" is pods bound divided by the time from the run's first action (first cycle, first create) to its
last binding. Every client runs at 500 requests per second, burst 1000 (gpugrant's token bucket,
kube-scheduler's and Kueue's clientConnection, the controller manager's --kube-api-qps), so no component
is held back by a client-side limit the others do not have. A gang is "half-placed" when some but not all
of its pods are bound at the end of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.controlplane import ControlPlane, binaries_folder, free_port

ROOT = Path(__file__).resolve().parent.parent
CLIENT_QPS = 500
KUEUE_METRICS_CERTS = Path(
    "/etc/kueue/metrics/certs"
)  # where Kueue insists on finding them (see start_kueue)
GPU = "nvidia.com/gpu"
RUN_LABEL = "bench.gpugrant.io/run"
MANAGED_SELECTOR = "app.kubernetes.io/managed-by=gpugrant"
TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class JobShape:
    name: str
    pods: int
    gpus_per_pod: int


def workload(nodes: int, seed: int = 7) -> list[JobShape]:
    """Exactly the cluster's GPUs: 1.6 single-GPU jobs, 0.2 2-node and 0.1 4-node gangs per node, shuffled."""
    shapes = (
        [JobShape(f"single-{i}", 1, 1) for i in range(nodes * 8 // 5)]
        + [JobShape(f"gang2-{i}", 2, 8) for i in range(nodes // 5)]
        + [JobShape(f"gang4-{i}", 4, 8) for i in range(nodes // 10)]
    )
    random.Random(seed).shuffle(shapes)
    return shapes


@dataclass
class RunResult:
    mode: str
    pods: int
    placed: int
    seconds_to_last_binding: float
    all_placed: bool
    half_placed_gangs: int
    jobs_placed: int = 0  # jobs with every pod bound
    admitted: int = 0  # Kueue: Workloads admitted; gpugrant: jobs claimed (placement committed)
    seconds_to_last_admission: float = 0.0
    extra: dict = field(default_factory=dict)
    cleanup: object = field(default=None, repr=False, compare=False)  # empties the cluster for the next run

    def as_dict(self) -> dict:
        figures = {k: v for k, v in self.__dict__.items() if k != "cleanup"}
        return {
            **figures,
            "pods_per_second": round(self.pods_per_second, 1),
            "jobs_per_second": round(self.jobs_per_second, 1),
            "admissions_per_second": round(self.admissions_per_second, 1),
        }

    @property
    def pods_per_second(self) -> float:
        return self.placed / self.seconds_to_last_binding if self.seconds_to_last_binding else 0.0

    @property
    def jobs_per_second(self) -> float:
        return self.jobs_placed / self.seconds_to_last_binding if self.seconds_to_last_binding else 0.0

    @property
    def admissions_per_second(self) -> float:
        return self.admitted / self.seconds_to_last_admission if self.seconds_to_last_admission else 0.0


# --- observing the cluster ---------------------------------------------------------------------------


def wait_for_count(changed: threading.Condition, seen: dict, count: int, stall: float) -> None:
    """Until ``seen`` (filled under ``changed``) holds ``count`` entries, or ``stall`` seconds pass without
    a new one."""
    last, size = time.monotonic(), -1
    with changed:
        while len(seen) < count:
            if len(seen) != size:
                size, last = len(seen), time.monotonic()
            if time.monotonic() - last > stall:
                return
            changed.wait(0.2)


class Bindings:
    """Watches the pods a label selector picks and records when each is first seen bound to a node."""

    def __init__(self, core, selector: str):
        self.core, self.selector = core, selector
        self.bound: dict[str, tuple[float, str]] = {}  # pod name → (monotonic time, node)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.changed = threading.Condition()

    def start(self) -> Bindings:
        self.thread.start()
        return self

    def _watch(self) -> None:
        # Raw JSON, not the client's models: this runs in the process that also runs gpugrant's cycle, and
        # building a model per event would take CPU from it that the other ways do not pay.
        while not self.stop.is_set():
            listing = self._raw(watch=False)
            self._record(json.loads(listing.data)["items"])
            resource_version = json.loads(listing.data)["metadata"]["resourceVersion"]
            try:
                stream = self._raw(watch=True, resource_version=resource_version, timeout_seconds=5)
                for line in stream:
                    if line.strip():
                        self._record([json.loads(line)["object"]])
                    if self.stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - relist and go on
                continue

    def _raw(self, **options):
        return self.core.list_pod_for_all_namespaces(
            label_selector=self.selector, _preload_content=False, **options
        )

    def _record(self, pods: list[dict]) -> None:
        now = time.monotonic()
        with self.changed:
            for pod in pods:
                node, name = (pod.get("spec") or {}).get("nodeName"), pod["metadata"]["name"]
                if node and name not in self.bound:
                    self.bound[name] = (now, node)
            self.changed.notify_all()

    def wait(self, count: int, stall: float) -> None:
        """Until ``count`` pods are bound, or none was bound for ``stall`` seconds."""
        wait_for_count(self.changed, self.bound, count, stall)
        self.stop.set()


def _placement_counts(jobs: list[JobShape], bound_pods: set[str], pod_names) -> tuple[int, int]:
    """(gangs with some but not all pods bound, jobs with every pod bound)."""
    half = complete = 0
    for job in jobs:
        placed = sum(1 for name in pod_names(job) if name in bound_pods)
        half += job.pods > 1 and 0 < placed < job.pods
        complete += placed == job.pods
    return half, complete


def client_threads() -> int:
    """The creating clients' concurrency: the same as gpugrant's binds, so neither side out-threads the other."""
    from django.conf import settings

    return settings.GPUGRANT_K8S_BIND_CONCURRENCY


# --- the three ways ----------------------------------------------------------------------------------


def plain_pod(run: str, job: JobShape, rank: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job.name}-{rank}",
            "labels": {RUN_LABEL: run, "bench.gpugrant.io/job": job.name},
        },
        "spec": {
            "restartPolicy": "Never",
            "tolerations": [TOLERATION],
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example.kr/bench:1",
                    "resources": {"limits": {GPU: str(job.gpus_per_pod)}},
                }
            ],
        },
    }


def run_kube_scheduler(plane: ControlPlane, core, jobs: list[JobShape], run: str, stall: float) -> RunResult:
    namespace = f"bench-ks-{run}"
    core.create_namespace({"metadata": {"name": namespace}})
    pods = [plain_pod(run, job, rank) for job in jobs for rank in range(job.pods)]
    bindings = Bindings(core, f"{RUN_LABEL}={run}").start()
    start = time.monotonic()
    with ThreadPoolExecutor(client_threads()) as pool:
        list(pool.map(lambda pod: core.create_namespaced_pod(namespace, pod, _preload_content=False), pods))
    created = time.monotonic()
    bindings.wait(len(pods), stall)
    bound = set(bindings.bound)
    last = max((t for t, _ in bindings.bound.values()), default=start)
    half, complete = _placement_counts(jobs, bound, lambda job: [f"{job.name}-{r}" for r in range(job.pods)])
    result = RunResult(
        "kube-scheduler",
        len(pods),
        len(bound),
        last - start,
        len(bound) == len(pods),
        half,
        jobs_placed=complete,
        extra={"seconds_creating": round(created - start, 3)},
    )
    result.cleanup = lambda: _delete_namespace(plane, core, namespace, f"{RUN_LABEL}={run}")
    return result


def _kueue_job(run: str, job: JobShape) -> dict:
    pod = plain_pod(run, job, 0)
    template = {"metadata": {"labels": pod["metadata"]["labels"]}, "spec": pod["spec"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job.name,
            "labels": {"kueue.x-k8s.io/queue-name": "bench", RUN_LABEL: run},
        },
        "spec": {
            # Kueue's webhook would suspend it; the webhook is not installed here, so the Job comes suspended.
            "suspend": True,
            "parallelism": job.pods,
            "completions": job.pods,
            "completionMode": "Indexed",
            "backoffLimit": 0,
            "template": template,
        },
    }


def run_kueue(
    plane: ControlPlane, core, custom, batch, jobs: list[JobShape], run: str, stall: float
) -> RunResult:
    namespace = f"bench-kueue-{run}"
    core.create_namespace({"metadata": {"name": namespace}})
    custom.create_namespaced_custom_object(
        "kueue.x-k8s.io",
        "v1beta2",
        namespace,
        "localqueues",
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "LocalQueue",
            "metadata": {"name": "bench"},
            "spec": {"clusterQueue": "bench"},
        },
    )
    admissions = Admissions(custom, namespace).start()
    bindings = Bindings(core, f"{RUN_LABEL}={run}").start()
    start = time.monotonic()
    with ThreadPoolExecutor(client_threads()) as pool:
        list(
            pool.map(
                lambda job: batch.create_namespaced_job(
                    namespace, _kueue_job(run, job), _preload_content=False
                ),
                jobs,
            )
        )
    admissions.wait(len(jobs), stall)
    pods = sum(job.pods for job in jobs)
    bindings.wait(pods, stall)
    last_admission = max(admissions.admitted.values(), default=start)
    last_binding = max((t for t, _ in bindings.bound.values()), default=start)
    # Job pods are named <job>-<index>-<random>: count bound pods per job.
    per_job: dict[str, int] = {}
    for name in bindings.bound:
        job_name = name.rsplit("-", 2)[0]
        per_job[job_name] = per_job.get(job_name, 0) + 1
    half = sum(1 for job in jobs if job.pods > 1 and 0 < per_job.get(job.name, 0) < job.pods)
    result = RunResult(
        "kueue",
        pods,
        len(bindings.bound),
        last_binding - start,
        len(bindings.bound) == pods,
        half,
        jobs_placed=sum(1 for job in jobs if per_job.get(job.name, 0) == job.pods),
        admitted=len(admissions.admitted),
        seconds_to_last_admission=last_admission - start,
    )
    result.cleanup = lambda: _delete_namespace(plane, core, namespace, f"{RUN_LABEL}={run}")
    return result


class Admissions:
    """Watches Kueue's Workloads in a namespace and records when each is first seen admitted."""

    def __init__(self, custom, namespace: str):
        self.custom, self.namespace = custom, namespace
        self.admitted: dict[str, float] = {}
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Admissions:
        self.thread.start()
        return self

    def _watch(self) -> None:
        import kubernetes

        while not self.stop.is_set():
            try:
                for event in kubernetes.watch.Watch().stream(
                    self.custom.list_namespaced_custom_object,
                    "kueue.x-k8s.io",
                    "v1beta2",
                    self.namespace,
                    "workloads",
                    timeout_seconds=5,
                ):
                    workload = event["object"]
                    now = time.monotonic()
                    if (workload.get("status") or {}).get("admission"):
                        with self.changed:
                            self.admitted.setdefault(workload["metadata"]["name"], now)
                            self.changed.notify_all()
                    if self.stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - watch again
                continue

    def wait(self, count: int, stall: float) -> None:
        """Until ``count`` Workloads are admitted, or none was for ``stall`` seconds."""
        wait_for_count(self.changed, self.admitted, count, stall)
        self.stop.set()


def run_gpugrant(plane: ControlPlane, core, backend, jobs: list[JobShape], stall: float) -> RunResult:
    from scheduler.cycle import run_cycle
    from scheduler.models import Job

    _gpugrant_world(jobs)
    # gpugrant's own pods carry its managed-by label; the previous run's are all gone by now.
    bindings = Bindings(core, MANAGED_SELECTOR).start()
    start = time.monotonic()
    cycles, phases, admitted, last_admission = 0, {}, 0, start
    while Job.objects.filter(state="queued").exists() and cycles < 10:
        cycle_start = time.monotonic()
        result = run_cycle(backend=backend, sync_inventory=True, estimate=False)
        cycles += 1
        for name, seconds in result.seconds.items():
            phases[name] = phases.get(name, 0.0) + seconds
        if not result.claimed:
            break
        # gpugrant's admission: the claims committed in PostgreSQL (job and GPUs), before any pod exists,
        # as Kueue's is the admission written to its Workload before the Job controller makes pods.
        admitted += result.claimed
        last_admission = cycle_start + sum(
            result.seconds[p] for p in ("inventory", "snapshot", "plan", "claim")
        )
    decided = time.monotonic()
    pods = sum(job.pods for job in jobs)
    bindings.wait(pods, stall)
    bound = set(bindings.bound)
    last = max((t for t, _ in bindings.bound.values()), default=start)
    names = {}
    for job in Job.objects.all():
        names[job.name] = [
            f"job-{str(job.public_id).replace('-', '')[:12]}-{rank}" for rank in range(job.pods)
        ]
    half, complete = _placement_counts(jobs, bound, lambda job: names.get(job.name, []))
    result = RunResult(
        "gpugrant",
        pods,
        len(bound),
        last - start,
        len(bound) == pods,
        half,
        jobs_placed=complete,
        admitted=admitted,
        seconds_to_last_admission=last_admission - start,
        extra={
            "cycles": cycles,
            "seconds_in_cycles": round(decided - start, 3),
            "phase_seconds": {k: round(v, 3) for k, v in phases.items()},
            "queued_left": Job.objects.filter(state="queued").count(),
        },
    )

    def cleanup():
        pods = core.list_pod_for_all_namespaces(label_selector=MANAGED_SELECTOR).items
        for namespace in {pod.metadata.namespace for pod in pods}:
            _delete_namespace(plane, core, namespace, MANAGED_SELECTOR)

    result.cleanup = cleanup
    return result


# --- gpugrant's side ---------------------------------------------------------------------------------


def setup_django_on_postgres() -> None:
    """Django on a bench copy of DATABASE_URL's PostgreSQL database (gpugrant's cycle claims there)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL=postgres://… (gpugrant's cycle claims in PostgreSQL)")
    setup_django(url)


def setup_django(database_url: str) -> None:
    base, _, name = database_url.rpartition("/")
    os.environ["DATABASE_URL"] = f"{base}/{name}_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["GPUGRANT_BACKEND"] = "kubernetes"
    os.environ["GPUGRANT_K8S_QPS"] = str(CLIENT_QPS)
    os.environ["GPUGRANT_K8S_BURST"] = str(CLIENT_QPS * 2)
    os.environ["GPUGRANT_K8S_NAMESPACE_PREFIX"] = "bench-gg-"
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"{name}_bench",)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}_bench"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _gpugrant_world(jobs: list[JobShape]):
    """An empty database with one organisation, one H100 allocation big enough, and the jobs queued."""
    from django.core.management import call_command

    from bench.world import bench_allocation
    from scheduler.models import Job

    call_command("flush", interactive=False, verbosity=0)
    holds = sum(job.pods * job.gpus_per_pod * 3600 for job in jobs)
    user, organisation, allocation = bench_allocation("H100", held_gpu_seconds=holds)
    Job.objects.bulk_create(
        Job(
            organisation=organisation, allocation=allocation, created_by=user, name=job.name,
            kind="training", image="registry.example.kr/bench:1", command=["true"], gpu_type="H100",
            gpus_per_pod=job.gpus_per_pod, pods=job.pods, max_runtime_minutes=60,
            hold_gpu_seconds=job.pods * job.gpus_per_pod * 3600,
        )
        for job in jobs
    )  # fmt: skip
    return allocation


# --- Kueue -------------------------------------------------------------------------------------------


def start_kueue(plane: ControlPlane, nodes: int) -> subprocess.Popen:
    """The Kueue controller (v0.17.0, built by tests/cluster/build kueue) with its CRDs, no webhooks.

    Kueue's webhooks (which suspend new Jobs and validate objects) need the API server to reach a Service;
    they are not installed, so the benchmark creates its Jobs suspended. With its internal certificate
    management off, Kueue reads its metrics certificate from a fixed path, /etc/kueue/metrics/certs.
    """
    folder = plane.folder / "kueue"
    certs = folder / "webhook-certs"
    certs.mkdir(parents=True, exist_ok=True)
    cert, key = plane.pki.pairs["kwok-kubelet"]  # any certificate for 127.0.0.1 will do
    for target in (certs, KUEUE_METRICS_CERTS):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(cert, target / "tls.crt")
        shutil.copy(key, target / "tls.key")
    plane.kubectl("apply", "--server-side", "-f", str((binaries_folder() / "kueue-crds").resolve()))
    plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    plane.kubectl("create", "namespace", "kueue-system")
    config = folder / "config.json"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "config.kueue.x-k8s.io/v1beta2",
                "kind": "Configuration",
                "namespace": "kueue-system",
                "manageJobsWithoutQueueName": False,
                "internalCertManagement": {"enable": False},
                "webhook": {"port": free_port(), "host": "127.0.0.1", "certDir": str(certs)},
                "metrics": {"bindAddress": f"127.0.0.1:{free_port()}"},
                "health": {"healthProbeBindAddress": f"127.0.0.1:{(health := free_port())}"},
                "leaderElection": {"leaderElect": False},
                "clientConnection": {"qps": CLIENT_QPS, "burst": CLIENT_QPS * 2},
                "integrations": {"frameworks": ["batch/job"]},
                # The on-demand visibility API is an aggregated API server of its own: not needed here.
                "featureGates": {"VisibilityOnDemand": False},
            }
        )
    )
    log = (plane.folder / "logs" / "kueue.log").open("ab")
    process = subprocess.Popen(
        [str(binaries_folder() / "kueue"), f"--config={config}", f"--kubeconfig={plane.admin_kubeconfig}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    import urllib.request

    def ready():
        if process.poll() is not None:
            raise RuntimeError(f"kueue exited: {(plane.folder / 'logs' / 'kueue.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    plane.wait_for(ready, "Kueue ready", timeout=120)
    for obj in (
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": "h100"},
            "spec": {},
        },
        {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ClusterQueue",
            "metadata": {"name": "bench"},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": [GPU],
                        "flavors": [
                            {"name": "h100", "resources": [{"name": GPU, "nominalQuota": nodes * 8}]}
                        ],
                    }
                ],
            },
        },
    ):
        plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
    return process


# --- where the CPU goes -----------------------------------------------------------------------------


def cpu_seconds(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process, this one included."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in processes.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            used[name] = 0.0
    times = os.times()
    used["bench (gpugrant's cycle, clients, watches)"] = times.user + times.system
    return used


def profile_apiserver(plane: ControlPlane, seconds: int, out: Path) -> threading.Thread:
    """Start taking a CPU profile of kube-apiserver; ``out`` gets `go tool pprof -top -cum` of it."""

    def take():
        try:
            raw = plane.apiserver_cpu_profile(seconds)
            out.with_suffix(".pb.gz").write_bytes(raw)
            top = subprocess.run(
                ["go", "tool", "pprof", "-top", "-cum", "-nodecount=40", str(out.with_suffix(".pb.gz"))],
                capture_output=True,
                text=True,
                timeout=120,
            )
            out.write_text(top.stdout or top.stderr)
        except Exception as error:  # noqa: BLE001 - a profile is extra; the run's figures stand without it
            out.write_text(f"no profile: {error}")

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def top_functions(pprof_top: str, limit: int = 8) -> list[str]:
    """How busy the apiserver was ("Duration: 5s, Total samples = 4.1s (82%)", 100 % = one core), then the
    Kubernetes functions that hold most of its CPU (cumulative), from `go tool pprof -top -cum`."""
    rows = [line.strip() for line in pprof_top.splitlines() if line.strip().startswith("Duration:")]
    for line in pprof_top.splitlines():
        fields = line.split()  # flat, flat%, sum%, cum, cum%, function [(inline)]
        if len(fields) >= 6 and fields[4].endswith("%") and fields[5].startswith("k8s.io/"):
            rows.append(f"{fields[4]} {fields[5]}")
    return rows[: limit + 1]


# --- housekeeping ------------------------------------------------------------------------------------


def _delete_namespace(plane: ControlPlane, core, namespace: str, selector: str) -> None:
    """Remove a namespace's pods at once (grace 0) and the namespace; wait until no pod ``selector``
    picks is left."""
    plane.request("DELETE", f"/apis/batch/v1/namespaces/{namespace}/jobs?propagationPolicy=Background")
    plane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods?gracePeriodSeconds=0")
    plane.request("DELETE", f"/api/v1/namespaces/{namespace}")

    def gone():
        plane.request("DELETE", f"/api/v1/namespaces/{namespace}/pods?gracePeriodSeconds=0")
        return not core.list_pod_for_all_namespaces(label_selector=selector).items

    plane.wait_for(gone, f"the pods of {selector} to go", timeout=120, interval=0.5)


def _admin_clients(plane: ControlPlane):
    import kubernetes

    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(plane.admin_kubeconfig), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = 32
    client = kubernetes.client.ApiClient(configuration)
    return (
        kubernetes.client.CoreV1Api(client),
        kubernetes.client.CustomObjectsApi(client),
        kubernetes.client.BatchV1Api(client),
    )


def summarise(results: list[RunResult]) -> dict:
    def median(values):
        return round(statistics.median(values), 2) if values else None

    by_mode: dict[str, list[RunResult]] = {}
    for result in results:
        by_mode.setdefault(result.mode, []).append(result)
    summary = {}
    for mode, runs in by_mode.items():
        summary[mode] = {
            "runs": len(runs),
            "pods": runs[0].pods,
            "median_pods_per_second": median([r.pods_per_second for r in runs]),
            "median_jobs_per_second": median([r.jobs_per_second for r in runs]),
            "median_jobs_placed": median([r.jobs_placed for r in runs]),
            "median_seconds_to_last_binding": median([r.seconds_to_last_binding for r in runs]),
            "median_pods_placed": median([r.placed for r in runs]),
            "runs_all_placed": sum(r.all_placed for r in runs),
            "max_half_placed_gangs": max(r.half_placed_gangs for r in runs),
            "median_cpu_seconds": {
                name: median([r.extra["cpu_seconds"].get(name, 0.0) for r in runs])
                for name in runs[0].extra.get("cpu_seconds", {})
            },
        }
        if mode in ("kueue", "gpugrant"):
            summary[mode]["median_admissions_per_second"] = median([r.admissions_per_second for r in runs])
            summary[mode]["median_seconds_to_last_admission"] = median(
                [r.seconds_to_last_admission for r in runs]
            )
            summary[mode]["median_admitted"] = median([r.admitted for r in runs])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--stall", type=float, default=15.0, help="end a run after this long without progress"
    )
    parser.add_argument("--modes", default="gpugrant,kube-scheduler,kueue")
    parser.add_argument(
        "--profile-seconds",
        type=int,
        default=5,
        help="take a CPU profile of kube-apiserver over the first seconds of each way's first run (0: none)",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    setup_django_on_postgres()
    modes = args.modes.split(",")
    jobs = workload(args.nodes)
    plane = ControlPlane(audit=False, client_qps=CLIENT_QPS)
    plane.start()
    kueue = None
    try:
        names = [f"gpu-{i:04d}" for i in range(args.nodes)]
        plane.add_gpu_nodes(names)
        plane.wait_nodes_ready(names, timeout=300)
        for name in ("namespaces.yaml", "scheduler-serviceaccount.yaml", "scheduler-clusterrole.yaml",
                     "scheduler-clusterrolebinding.yaml"):  # fmt: skip
            plane.kubectl("apply", "--server-side", "-f", str(ROOT / "deploy" / "base" / name))
        if "kueue" in modes:
            kueue = start_kueue(plane, args.nodes)
        core, custom, batch = _admin_clients(plane)
        from scheduler.backends.kubernetes import KubernetesBackend

        # Configured as the product is: KUBECONFIG with the scheduler service account's token, the client
        # built by the backend itself (its connection pool sized for its burst).
        os.environ["KUBECONFIG"] = str(plane.kubeconfig_for_service_account("gpugrant", "gpugrant-scheduler"))
        backend = KubernetesBackend()
        processes = {name: process.popen.pid for name, process in plane.processes.items()}
        if kueue is not None:
            processes["kueue"] = kueue.pid
        results: list[RunResult] = []
        for number in range(args.runs):
            for mode in modes:
                run = f"{mode.replace('-', '')[:8]}{number}"
                before = cpu_seconds(processes)
                profile = None
                if number == 0 and args.profile_seconds:
                    profile_file = plane.folder / f"apiserver-{mode}.txt"
                    profile = profile_apiserver(plane, args.profile_seconds, profile_file)
                if mode == "gpugrant":
                    result = run_gpugrant(plane, core, backend, jobs, args.stall)
                elif mode == "kube-scheduler":
                    result = run_kube_scheduler(plane, core, jobs, run, args.stall)
                else:
                    result = run_kueue(plane, core, custom, batch, jobs, run, args.stall)
                after = cpu_seconds(processes)
                result.extra["cpu_seconds"] = {name: round(after[name] - before[name], 2) for name in after}
                if profile is not None:
                    profile.join(args.profile_seconds + 150)
                    result.extra["apiserver_profile_top_cum"] = top_functions(profile_file.read_text())
                result.cleanup()
                results.append(result)
                print(json.dumps(result.as_dict()), flush=True)
        report = {
            "nodes": args.nodes,
            "gpus": args.nodes * 8,
            "jobs": len(jobs),
            "pods": sum(job.pods for job in jobs),
            "shapes": {
                "single": sum(job.pods == 1 for job in jobs),
                "gang2": sum(job.pods == 2 for job in jobs),
                "gang4": sum(job.pods == 4 for job in jobs),
            },
            "control_plane_start_seconds": round(plane.start_seconds, 1),
            "summary": summarise(results),
            "runs": [r.as_dict() for r in results],
        }
        print(json.dumps(report["summary"], indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
    finally:
        if kueue is not None:
            kueue.terminate()
            kueue.wait(15)
        plane.stop()


if __name__ == "__main__":
    main()
