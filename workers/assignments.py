"""Which job each GPU of this node is bound to, and since/until when: the edges GPU-seconds come from.

Two sources, each with ``bindings(now) -> list[Binding]`` (active ones, and released ones for a while
after their release so that the agent can write their final record):

- ``LocalAssignments`` reads the local backend's files (named in workers/local_layout.py) directly —
  no Django. A rank's GPUs are bound from its runner's start record
  (the mtime of ``runner-RANK.json``, written by the backend's bind) until its exit record
  (``exit-RANK.json``'s ``finished_at``). Both are files, so the edges survive agent restarts.
- ``PodResourcesAssignments`` asks the kubelet's PodResources API which pod holds which GPU, and the
  portal (``GET /api/v1/node/jobs``) which job a pod ``job-<12 hex>-<rank>`` belongs to. Kubernetes
  records no bind time per device, so a binding's ``bound_at`` is the first time this agent saw the
  device held by the pod and ``released_at`` the first time it saw it gone (or the job's
  ``finished_at`` from the portal when that is earlier): edges are exact to one report interval.
  ``restore`` hands it the open bindings from the spool, so an agent restart keeps the first-seen
  time instead of starting the binding anew.
"""

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workers import local_layout as layout
from workers.local_layout import process_alive, read_json
from workers.metering.device import GpuInfo
from workers.podresources import PodResourcesClient, PodResourcesError
from workers.portal_client import PortalClient, PortalError

log = logging.getLogger(__name__)

GPU_RESOURCE = "nvidia.com/gpu"
RELEASED_KEPT_SECONDS = 3600  # released bindings stay listed this long, for the final record
_POD_NAME = re.compile(r"^job-([0-9a-f]{12})-(\d+)$")  # scheduler/backends/k8s_manifests.pod_name


@dataclass(frozen=True)
class Binding:
    job_id: str  # the job's public id
    gpu_uuid: str
    gpu_index: int  # -1 where the source cannot tell
    bound_at: float  # epoch seconds
    released_at: float | None  # None while bound
    mig_fraction: float = 1.0


# --- the local backend ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _RankFacts:
    bindings: tuple[Binding, ...]
    child: dict | None  # child-RANK.json: {"pid", "pgid", "identity"} of the rank's command
    final: bool  # the exit record exists: nothing about this rank changes any more


class LocalAssignments:
    """Bindings of this node's GPUs from ``state_dir`` (the local backend's root, VAR_DIR/local-backend)."""

    def __init__(self, state_dir: Path | str, node: str, gpu_uuids: dict[int, str]):
        self.state_dir = Path(state_dir)
        self.node = node
        self.gpu_uuids = dict(gpu_uuids)
        self._finished_runs: dict[
            str, list[Binding]
        ] = {}  # run dir → bindings of a run whose ranks all ended
        self._lost_seen: dict[tuple[str, int], float] = {}  # (run dir, rank) → when first seen vanished
        self._children: dict[str, dict] = {}  # GPU uuid → child record of the rank using it now

    def bindings(self, now: float) -> list[Binding]:
        found: list[Binding] = []
        children: dict[str, dict] = {}
        live_runs: set[str] = set()
        try:
            job_dirs = [entry for entry in os.scandir(self.state_dir) if entry.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            job_dirs = []
        for job_dir in job_dirs:
            run_dir = layout.current_run(Path(job_dir.path))
            if run_dir is None:
                continue
            live_runs.add(str(run_dir))
            finished = self._finished_runs.get(str(run_dir))
            if finished is not None:
                found.extend(finished)
                continue
            spec = read_json(run_dir / layout.SPEC)
            if spec is None:
                continue
            run_bindings: list[Binding] = []
            all_final = True
            try:
                for rank in range(len(spec["ranks"])):
                    facts = self._rank_facts(run_dir, rank, spec, now)
                    run_bindings.extend(facts.bindings)
                    all_final = all_final and facts.final
                    if facts.child and not facts.final:
                        children.update({binding.gpu_uuid: facts.child for binding in facts.bindings})
            except (KeyError, TypeError, ValueError) as error:
                log.warning(
                    "skipping %s: its files are not what the local backend writes (%r)", run_dir, error
                )
                continue
            if all_final:
                self._finished_runs[str(run_dir)] = run_bindings  # exit records never change
            found.extend(run_bindings)
        # Forget runs that are gone (the backend deletes a job's old runs when it binds it again).
        for key in [key for key in self._finished_runs if key not in live_runs]:
            del self._finished_runs[key]
        for key in [key for key in self._lost_seen if key[0] not in live_runs]:
            del self._lost_seen[key]
        self._children = children
        return [binding for binding in found if _recent(binding, now)]

    def process_groups(self) -> dict[str, dict]:
        """GPU uuid → the child record (pid, pgid, identity) of the command bound to it, as of ``bindings``."""
        return dict(self._children)

    def _rank_facts(self, run_dir: Path, rank: int, spec: dict, now: float) -> _RankFacts:
        rank_spec = spec["ranks"][rank]
        if rank_spec.get("node") != self.node:
            return _RankFacts((), None, final=True)
        runner_path = layout.runner_file(run_dir, rank)
        try:
            bound_at = runner_path.stat().st_mtime
        except FileNotFoundError:
            return _RankFacts((), None, final=False)  # not started yet (or the bind failed)
        child = read_json(layout.child_file(run_dir, rank))
        exit_record = read_json(layout.exit_file(run_dir, rank))
        final = exit_record is not None
        released_at = None
        if exit_record is not None:
            released_at = float(exit_record.get("finished_at") or bound_at)
        elif not _runner_alive(run_dir, rank) and not _group_alive(child):
            # Killed without an exit record (kill -9, reboot): released when this agent first saw it so.
            key = (str(run_dir), rank)
            released_at = self._lost_seen.setdefault(key, now)
        bindings = []
        for index in rank_spec.get("gpu_indices", []):
            uuid = self.gpu_uuids.get(index)
            if uuid is None:
                log.warning(
                    "job %s uses GPU %s of %s, which this agent does not know",
                    spec["job_id"],
                    index,
                    self.node,
                )
                continue
            bindings.append(Binding(spec["job_id"], uuid, index, bound_at, released_at))
        return _RankFacts(tuple(bindings), child, final)


def _runner_alive(run_dir: Path, rank: int) -> bool:
    runner = read_json(layout.runner_file(run_dir, rank))
    return bool(runner) and process_alive(runner["pid"], runner.get("identity"))


def _group_alive(child: dict | None) -> bool:
    if not child:
        return False
    if not process_alive(child["pgid"], child.get("identity")) and process_alive(child["pgid"], None):
        return False  # the leader's pid belongs to someone else now
    try:
        os.killpg(child["pgid"], 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _recent(binding: Binding, now: float) -> bool:
    return binding.released_at is None or now - binding.released_at <= RELEASED_KEPT_SECONDS


# --- Kubernetes -----------------------------------------------------------------------------------


@dataclass
class _Seen:
    job_id: str | None
    bound_at: float
    released_at: float | None = None


class PodResourcesAssignments:
    """Bindings from the kubelet's PodResources API, attributed to jobs through the portal."""

    def __init__(
        self,
        kubelet: PodResourcesClient | str,
        client: PortalClient,
        *,
        gpus: Iterable[GpuInfo] = (),
        resource_names: Iterable[str] = (GPU_RESOURCE,),
    ):
        self.kubelet = PodResourcesClient(kubelet) if isinstance(kubelet, str) else kubelet
        self.client = client
        self.resource_names = tuple(resource_names)
        self._gpus_by_uuid: dict[str, GpuInfo] = {}
        self._gpus_by_index: dict[int, GpuInfo] = {}
        self.set_gpus(gpus)
        self._jobs_by_hex: dict[str, dict] = {}  # the portal's answer, kept across its outages
        self._seen: dict[tuple[str, str], _Seen] = {}  # (namespace/pod, GPU uuid) → what we know
        self._restored: dict[tuple[str, str], float] = {}  # (job id, GPU uuid) → bound_at from the spool
        self._last: list[Binding] = []

    def set_gpus(self, gpus: Iterable[GpuInfo]) -> None:
        gpus = list(gpus)
        self._gpus_by_uuid = {gpu.uuid: gpu for gpu in gpus}
        self._gpus_by_index = {gpu.index: gpu for gpu in gpus}

    def restore(self, open_bindings: Iterable[tuple[str, str, float]]) -> None:
        """(job id, GPU uuid, bound_at) of bindings the spool says were open when the agent last ran."""
        for job_id, gpu_uuid, bound_at in open_bindings:
            self._restored[(job_id, gpu_uuid)] = bound_at

    def bindings(self, now: float) -> list[Binding]:
        try:
            pods = self.kubelet.list()
        except PodResourcesError as error:
            log.warning("cannot list pod resources (%s); keeping the last known bindings", error)
            return list(self._last)
        self._refresh_jobs()
        held: set[tuple[str, str]] = set()
        for pod in pods:
            match = _POD_NAME.match(pod.name)
            if not match:
                continue  # not a gpugrant pod: its GPUs are foreign to us
            pod_key = f"{pod.namespace}/{pod.name}"
            for device_id in sorted({d for name in self.resource_names for d in pod.device_ids(name)}):
                uuid = self._uuid_of(device_id)
                key = (pod_key, uuid)
                held.add(key)
                seen = self._seen.get(key)
                if seen is None or seen.released_at is not None:
                    seen = self._seen[key] = _Seen(None, now)
                if seen.job_id is None:
                    job = self._jobs_by_hex.get(match.group(1))
                    if job is not None:
                        seen.job_id = str(job["id"])
                        seen.bound_at = min(
                            seen.bound_at, self._restored.pop((seen.job_id, uuid), seen.bound_at)
                        )
        for key, seen in self._seen.items():
            if key not in held and seen.released_at is None:
                seen.released_at = max(seen.bound_at, min(now, self._finished_at(seen.job_id) or now))
        # Bindings restored from the spool whose pods are gone: they ended while the agent was away.
        for (job_id, uuid), bound_at in list(self._restored.items()):
            if not any(seen.job_id == job_id and key[1] == uuid for key, seen in self._seen.items()):
                released = max(bound_at, min(now, self._finished_at(job_id) or now))
                self._seen[(f"restored/{job_id}", uuid)] = _Seen(job_id, bound_at, released)
            del self._restored[(job_id, uuid)]
        for key in [
            key
            for key, seen in self._seen.items()
            if seen.released_at and now - seen.released_at > RELEASED_KEPT_SECONDS
        ]:
            del self._seen[key]
        self._last = [
            self._binding(key[1], seen) for key, seen in self._seen.items() if seen.job_id is not None
        ]
        return list(self._last)

    def _binding(self, uuid: str, seen: _Seen) -> Binding:
        gpu = self._gpus_by_uuid.get(uuid)
        return Binding(
            seen.job_id,
            uuid,
            gpu.index if gpu else -1,
            seen.bound_at,
            seen.released_at,
            gpu.mig_fraction if gpu else 1.0,
        )

    def _uuid_of(self, device_id: str) -> str:
        """Device plugins name GPUs by UUID (the default) or by index (``--device-id-strategy=index``)."""
        if device_id.isdigit() and int(device_id) in self._gpus_by_index:
            return self._gpus_by_index[int(device_id)].uuid
        return device_id

    def _refresh_jobs(self) -> None:
        try:
            jobs = self.client.node_jobs(retries=0)
        except PortalError as error:
            log.warning("cannot fetch this node's jobs (%s); using the last answer", error)
            return
        by_hex = {}
        for job in jobs:
            try:
                by_hex[str(job["id"]).replace("-", "").lower()[:12]] = job
            except (KeyError, TypeError):
                continue
        self._jobs_by_hex = by_hex

    def _finished_at(self, job_id: str | None) -> float | None:
        if job_id is None:
            return None
        for job in self._jobs_by_hex.values():
            if str(job.get("id")) == job_id and job.get("finished_at"):
                try:
                    return datetime.fromisoformat(str(job["finished_at"]).replace("Z", "+00:00")).timestamp()
                except ValueError:
                    return None
        return None
