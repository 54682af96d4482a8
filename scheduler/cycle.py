"""One scheduling cycle, in numbered steps:

1. sync the node inventory from the backend;
2. build a snapshot from the database (scheduler/snapshot.py);
3. plan with the pure core (scheduler.core.plan);
4. in ONE transaction, claim each start with conditional UPDATEs — the job WHERE state = 'queued',
   its GPUs WHERE job IS NULL — and roll back that job's savepoint if any row was taken meanwhile,
   so concurrent cycles can never double-book; mark preemption victims for stopping;
5. after commit, bind each claimed job through the backend (up to ``backend.bind_concurrency`` at once);
   a failed bind releases the claim and requeues the job (or fails it after GPUGRANT_MAX_REQUEUES);
6. ask the backend to stop the victims; store the queue view (positions, estimates, reasons).
"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from portal.providers.credentials import decrypt
from scheduler import reasons
from scheduler.backends import get_backend
from scheduler.backends.base import Backend, JobSpec, PodSpec
from scheduler.backends.federated import FederatedBackend
from scheduler.core import plan
from scheduler.core.calibration import calibrate
from scheduler.core.estimate import estimate_ranges
from scheduler.estimates import record_estimates
from scheduler.federation import health_record, members_sync
from scheduler.history import wait_calibration
from scheduler.inventory import inventory_sync
from scheduler.models import Gpu, Job, JobEvent, JobKind, state_reason_fields
from scheduler.queue_view import store_queue_view
from scheduler.reasons import Reason
from scheduler.signals import cycle_finished
from scheduler.snapshot import build_snapshot
from scheduler.states import JobState
from scheduler.transitions import bind_failed
from workers.logs import job_context

logger = logging.getLogger(__name__)


@dataclass
class CycleResult:
    planned: int = 0
    claimed: int = 0
    bound: int = 0
    bind_failures: int = 0
    preempted: int = 0
    lost_claims: int = 0  # starts another cycle won first
    seconds: dict[str, float] = field(default_factory=dict)


def run_cycle(
    *, backend: Backend | None = None, now=None, sync_inventory: bool = True, estimate: bool = True
) -> CycleResult:
    backend = backend or get_backend()
    now = now or timezone.now()
    result = CycleResult()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        result.seconds[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    federated = isinstance(backend, FederatedBackend)
    if federated:
        members_sync(backend)  # clusters registered or reconnected since the last cycle
    if sync_inventory:
        for name in inventory_sync(backend=backend, now=now):
            logger.warning("node %s vanished; its jobs will be reconciled as lost", name)
        if federated:
            health_record(backend)  # down clusters offline; clusters back and cleaned in service again
    lap("inventory")
    snapshot, index = build_snapshot(backend_name=backend.name, now=now)
    lap("snapshot")
    decision = plan(snapshot)
    result.planned = len(decision.starts)
    lap("plan")
    claimed = _claim(decision, index, backend.name, now, result)
    store_preemption_holds(snapshot, decision)
    lap("claim")
    bound = _bind_all(backend, claimed, result)
    _undo_binds_overtaken_by_stops(backend, bound)
    lap("bind")
    for victim in decision.preemptions:
        _stop(backend, index.public_ids[victim.job_id])
    if estimate:
        fallback = index.history.fallback if index.history is not None else None
        planned = estimate_ranges(snapshot, decision, fallback=fallback)
        estimates = calibrate(planned, snapshot, decision, wait_calibration(now))
        store_queue_view(decision, estimates, snapshot, index, now)
        record_estimates(estimates, now, planned)
    lap("queue_view")
    started = set(bound)
    _record_cycle(result, [pk for pk, spec in claimed if spec.job_id in started], now)
    return result


def _record_cycle(result: CycleResult, started_pks: list[int], now) -> None:
    """Report the cycle's figures (portal/ops keeps them for /metrics and the readiness check)."""
    rows = Job.objects.filter(pk__in=started_pks).values_list("gpu_type", "queued_at") if started_pks else []
    cycle_finished.send(
        sender=run_cycle,
        finished_at=timezone.now(),
        seconds=sum(result.seconds.values()),
        started=[(gpu_type, max(0.0, (now - queued_at).total_seconds())) for gpu_type, queued_at in rows],
        preemptions=result.preempted,
        bind_failures=result.bind_failures,
    )


def _claim(decision, index, backend_name: str, now, result: CycleResult) -> list[tuple[int, JobSpec]]:
    """Claim every start in one transaction with a few batched, conditional statements.

    Jobs move only WHERE state = 'queued' and GPUs only WHERE job IS NULL (RETURNING says who won);
    a job that did not get every GPU it was planned is put back, so partial claims never survive.
    """
    starts = {int(start.job_id): start for start in decision.starts}
    placements = {
        pk: [{"node": p.node, "gpus": list(p.gpu_indices)} for p in start.pods]
        for pk, start in starts.items()
    }
    placed = {
        pk: reasons.placed(", ".join(f"{p['node']} GPUs {','.join(map(str, p['gpus']))}" for p in placement))
        for pk, placement in placements.items()
    }
    events: list[JobEvent] = []
    with transaction.atomic():
        # a gang never spans clusters (scheduler.core), so its first node's cluster is the job's
        clusters = {pk: index.node_clusters.get(start.pods[0].node) for pk, start in starts.items()}
        won_jobs = claim_queued_jobs(placements, placed, backend_name, now, clusters)
        wanted: dict[int, int] = {pk: sum(len(p.gpu_indices) for p in starts[pk].pods) for pk in won_jobs}
        rows = [
            (index.node_ids[pod.node], gpu, pk)
            for pk in won_jobs
            for pod in starts[pk].pods
            for gpu in pod.gpu_indices
        ]
        got = claim_free_gpus(rows, now)
        losers = [pk for pk in won_jobs if got.get(pk, 0) != wanted[pk]]
        if losers:
            Gpu.objects.filter(job_id__in=losers).update(job=None, claimed_at=None)
            Job.objects.filter(pk__in=losers).update(
                state=JobState.QUEUED,
                scheduled_at=None,
                run_started_at=None,
                placement=[],
                **state_reason_fields(None),
            )
            result.lost_claims += len(losers)
        lost = set(losers)
        claimed = [pk for pk in won_jobs if pk not in lost]
        result.lost_claims += len(starts) - len(won_jobs)
        events.extend(
            JobEvent.of(
                placed[pk],
                job_id=pk,
                from_state=JobState.QUEUED,
                to_state=JobState.SCHEDULED,
                data={"placement": placements[pk]},
                created_at=now,
            )
            for pk in claimed
        )
        for victim in decision.preemptions:
            victim_pk = int(victim.job_id)
            active = Job.objects.filter(
                pk=victim_pk, state__in=[JobState.SCHEDULED, JobState.RUNNING], stop_requested=""
            )
            state = active.values_list("state", flat=True).first()
            reason = reasons.preempting(victim.reason)
            if state and active.update(stop_requested=JobState.PREEMPTED, **state_reason_fields(reason)):
                result.preempted += 1
                events.append(
                    JobEvent.of(
                        reasons.preempting(victim.reason, stopping=True),
                        job_id=victim_pk,
                        from_state=state,
                        to_state=state,
                        created_at=now,
                    )
                )
        JobEvent.objects.bulk_create(events, batch_size=500)
    result.claimed = len(claimed)
    jobs = Job.objects.select_related("organisation", "allocation").filter(pk__in=claimed).order_by("pk")
    return [(job.pk, spec_for(job)) for job in jobs]


def store_preemption_holds(snapshot, decision) -> None:
    """Remember which nodes are held for which preemptor, for the next cycle's snapshot.

    Written only where the hold changed. Losing a write is harmless: the job waits a little longer or
    preempts again; correctness (no GPU given twice) never depends on it.
    """
    before = {job.job_id: (job.held_nodes, job.held_since) for job in snapshot.queue if job.held_nodes}
    after = {hold.job_id: (hold.nodes, hold.since) for hold in decision.preemption_holds}
    for job_id, (nodes, since) in after.items():
        if before.get(job_id) != (nodes, since):
            Job.objects.filter(pk=int(job_id), state=JobState.QUEUED).update(
                held_nodes=list(nodes), held_since=datetime.fromtimestamp(since, tz=UTC)
            )
    ended = [int(job_id) for job_id in before if job_id not in after]
    if ended:
        Job.objects.filter(pk__in=ended).update(held_nodes=[], held_since=None)


def claim_queued_jobs(
    placements: dict[int, list], placed: dict[int, Reason], backend_name: str, now, clusters=None
) -> list[int]:
    """queued → scheduled, with placement, cluster (``clusters``: job → cluster pk or None) and reason,
    for those still queued; returns the ones moved."""
    clusters = clusters or {}
    won: list[int] = []
    table = Job._meta.db_table
    postgres = connection.vendor == "postgresql"
    as_json = "CAST(v.column{} AS JSONB)" if postgres else "v.column{}"
    with connection.cursor() as cursor:
        for chunk in _chunks(list(placements), 500):
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET state = %s, scheduled_at = %s, run_started_at = %s, backend = %s, "
                f"placement = {as_json.format(2)}, state_reason = v.column3, state_reason_code = v.column4, "
                f"state_reason_params = {as_json.format(5)}, cluster_id = CAST(v.column6 AS BIGINT) "
                f"FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1 AND {table}.state = %s RETURNING {table}.id",
                [
                    JobState.SCHEDULED.value,
                    now,
                    now,
                    backend_name,
                    *(
                        value
                        for pk in chunk
                        for value in _claim_row(pk, placements[pk], placed[pk], clusters.get(pk))
                    ),
                    JobState.QUEUED.value,
                ],
            )
            won.extend(row[0] for row in cursor.fetchall())
    return sorted(won)


def _claim_row(pk: int, placement: list, reason: Reason, cluster: int | None) -> tuple:
    columns = state_reason_fields(reason)
    code, params = columns["state_reason_code"], json.dumps(columns["state_reason_params"])
    return pk, json.dumps(placement), columns["state_reason"], code, params, cluster


def claim_free_gpus(rows: list[tuple[int, int, int]], now) -> dict[int, int]:
    """Give each (node, GPU index) to its job only WHERE it is free; returns GPUs won per job."""
    got: dict[int, int] = {}
    table = Gpu._meta.db_table
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 300):
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET job_id = v.column3, claimed_at = %s FROM (VALUES {values}) AS v "
                f'WHERE {table}.node_id = v.column1 AND {table}."index" = v.column2 '
                f"AND {table}.job_id IS NULL AND {table}.external = %s RETURNING {table}.job_id",
                [now, *(value for row in chunk for value in row), False],
            )
            for (job_id,) in cursor.fetchall():
                got[job_id] = got.get(job_id, 0) + 1
    return got


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def spec_for(job: Job) -> JobSpec:
    pods = tuple(
        PodSpec(node=p["node"], gpu_indices=tuple(p["gpus"]), rank=rank)
        for rank, p in enumerate(job.placement)
    )
    return JobSpec(
        job_id=str(job.public_id),
        name=job.name,
        organisation_id=str(job.organisation.public_id),
        allocation_id=str(job.allocation.public_id),
        kind=job.kind,
        image=job.image,
        command=tuple(job.command),
        environment=dict(job.environment),
        gpu_type=job.gpu_type,
        gpus_per_pod=job.gpus_per_pod,
        pods=pods,
        max_runtime_seconds=job.max_runtime_seconds,
        **session_parts(job),
    )


def session_parts(job: Job) -> dict:
    """An interactive job's token (decrypted for the backend only) and its owner's workspace."""
    if job.kind != JobKind.INTERACTIVE:
        return {}
    return {
        "secrets": {"JUPYTER_TOKEN": decrypt(job.session.token_ciphertext)},
        "workspace": f"{job.organisation.public_id}/{job.created_by.public_id}",
    }


def _bind_all(backend: Backend, claimed: list[tuple[int, JobSpec]], result: CycleResult) -> list[str]:
    """Bind every claimed job; returns the public ids bound.

    Only ``backend.bind`` runs in the worker threads: undoing a failed claim touches the database, and is
    done afterwards in this thread, inside whatever connection and transaction the cycle runs in.
    """
    # A backend that does not derive from Backend (a test double) binds one at a time.
    workers = min(max(1, getattr(backend, "bind_concurrency", 1)), len(claimed))
    specs = [spec for _, spec in claimed]
    if workers <= 1:
        failures = [_bind(backend, spec) for spec in specs]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="bind") as pool:
            failures = list(pool.map(lambda spec: _bind(backend, spec), specs))
    bound = []
    for (job_pk, spec), failure in zip(claimed, failures, strict=True):
        if failure is None:
            result.bound += 1
            bound.append(spec.job_id)
            continue
        result.bind_failures += 1
        with job_context(spec.job_id):
            bind_failed(
                job_pk,
                str(failure) or type(failure).__name__,
                counts=getattr(failure, "counts_as_requeue", True),
            )
    return bound


def _bind(backend: Backend, spec: JobSpec) -> Exception | None:
    """Bind one job; the exception it failed with, or None."""
    with job_context(spec.job_id):
        try:
            backend.bind(spec)
        except Exception as exc:  # noqa: BLE001 - any failure to start must release the claim
            logger.warning("bind of job %s failed: %s", spec.job_id, exc)
            return exc
    return None


def _undo_binds_overtaken_by_stops(backend: Backend, public_ids: list[str]) -> None:
    """Stop jobs cancelled or ended while their bind was in flight, so no pods are left behind.

    One query for the whole cycle. A job a concurrent reconcile moved to running is still active and
    is left alone.
    """
    if not public_ids:
        return
    overtaken = Job.objects.filter(public_id__in=public_ids).filter(
        ~Q(state__in=[JobState.SCHEDULED, JobState.RUNNING]) | ~Q(stop_requested="")
    )
    for public_id, stop in overtaken.values_list("public_id", "stop_requested"):
        _stop(backend, str(public_id), stop or "cancelled")


def _stop(backend: Backend, public_id: str, reason: str = "preempted") -> None:
    with job_context(public_id):
        try:
            backend.stop(public_id, reason)
        except Exception:  # noqa: BLE001 - the sweep retries stops
            logger.exception("stopping job %s (%s) failed; the sweep will retry", public_id, reason)
