"""The usage record: what a node agent reports for one GPU bound to one job over one interval.

The wire format of ``POST /api/v1/usage`` (``{"records": [record, …]}``, authenticated as the node).
The id is deterministic, so re-sending a record (the agent sends at least once) changes nothing.
"""

from dataclasses import asdict, dataclass


def record_id(job_id: str, gpu_uuid: str, epoch: int, sequence: int) -> str:
    return f"{job_id}:{gpu_uuid}:{epoch}:{sequence}"


@dataclass(frozen=True)
class UsageRecord:
    job_id: str  # the job's public id
    gpu_uuid: str
    epoch: int  # increases when the GPU's energy counter went backwards (driver reload) or the agent restarted
    sequence: int  # 0, 1, 2 … within (job, GPU, epoch)
    interval_start: float  # epoch seconds (UTC)
    interval_end: float
    gpu_seconds: int  # seconds this GPU was bound to the job within the interval, × MIG fraction, rounded
    energy_mj: int  # never 0 for a bound, powered GPU: estimated from power where there is no counter
    avg_utilisation_pct: float
    avg_memory_bytes: int
    estimated: bool = False  # energy integrated from instantaneous power, or MIG share of a board
    simulated: bool = False  # no real GPU: plausible figures from the job's activity
    quarantined: bool = False  # average power outside 0 .. limit + margin: kept, flagged, not trusted

    @property
    def id(self) -> str:
        return record_id(self.job_id, self.gpu_uuid, self.epoch, self.sequence)

    def to_wire(self) -> dict:
        return {"id": self.id, **asdict(self)}
