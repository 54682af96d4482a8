"""Node agents' usage reports: checked against where each job ran, charged once, and what follows.

Charging is scheduler/charging.py's; what the charge means for the job (idle GPUs, a used-up budget)
is decided by scheduler/enforcement.py, in the same transaction.
"""

from dataclasses import dataclass, field

from django.db import transaction

from quotas.ledger import record_problem
from quotas.models import UsageSource
from scheduler.charging import usage_charge
from scheduler.enforcement import budgets_enforce, idle_watch
from scheduler.models import Job, JobEvent
from scheduler.states import JobState


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)


def usage_ingest(*, node: str, records: list[dict]) -> IngestResult:
    """Apply records reported by ``node``'s agent; each is accepted once, a duplicate, or rejected."""
    result = IngestResult()
    jobs = {
        str(row["public_id"]): row
        for row in Job.objects.filter(public_id__in={r["job_id"] for r in records}).values(
            "pk", "public_id", "allocation_id", "gpu_type", "placement"
        )
    }
    valid = []
    seen = set()
    earlier_nodes = _nodes_of_earlier_runs(node, records, jobs)
    for record in records:
        problem = record_problem(record)
        job = jobs.get(str(record["job_id"]))
        if problem is None and job is None:
            problem = "no such job"
        if (
            problem is None
            and node not in {pod.get("node") for pod in job["placement"] or []}
            and job["pk"] not in earlier_nodes
        ):
            problem = "the job was not placed on this node"
        if problem is None and record["id"] in seen:
            result.duplicates += 1
            continue
        if problem:
            result.rejected.append({"id": record["id"], "reason": problem})
            continue
        seen.add(record["id"])
        valid.append((record, job))
    if valid:
        with transaction.atomic():
            charged = usage_charge(node=node, items=valid, source=UsageSource.AGENT)
            idle_watch(charged.utilisation)
            budgets_enforce(charged.budgets)
        result.accepted = charged.records
        result.duplicates += len(valid) - result.accepted
    return result


def _nodes_of_earlier_runs(node: str, records: list[dict], jobs: dict[str, dict]) -> set[int]:
    """Jobs (pk) whose earlier run was placed on ``node``, among those now placed elsewhere.

    A preempted or requeued job may run on another node before the old node's agent delivers the last
    records of the old run; those records are still owed, so they must not be refused.
    """
    elsewhere = {
        job["pk"]
        for record in records
        if (job := jobs.get(str(record["job_id"]))) is not None
        and node not in {pod.get("node") for pod in job["placement"] or []}
    }
    if not elsewhere:
        return set()
    return {
        job_id
        for job_id, data in JobEvent.objects.filter(
            job_id__in=elsewhere, to_state=JobState.SCHEDULED
        ).values_list("job_id", "data")
        if node in {pod.get("node") for pod in (data or {}).get("placement", [])}
    }
