"""The job state machine as data. Pure: services consult it before any write."""

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"  # GPUs claimed, handed to the backend
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"  # passes straight back to queued
    TIMED_OUT = "timed_out"
    EXHAUSTED = "exhausted"  # the allocation's budget ran out
    LOST = "lost"  # its node vanished; requeued or failed by policy


TERMINAL = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT, JobState.EXHAUSTED}
)
ACTIVE = frozenset({JobState.SCHEDULED, JobState.RUNNING})  # holding GPUs

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SCHEDULED, JobState.CANCELLED, JobState.FAILED, JobState.EXHAUSTED}),
    JobState.SCHEDULED: frozenset(
        {
            JobState.RUNNING,
            JobState.QUEUED,
            JobState.CANCELLED,
            JobState.FAILED,
            JobState.LOST,
            JobState.SUCCEEDED,
            JobState.TIMED_OUT,
            JobState.EXHAUSTED,
            JobState.PREEMPTED,
        }
    ),
    JobState.RUNNING: frozenset(
        {
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.PREEMPTED,
            JobState.TIMED_OUT,
            JobState.EXHAUSTED,
            JobState.LOST,
        }
    ),
    JobState.PREEMPTED: frozenset({JobState.QUEUED}),
    JobState.LOST: frozenset({JobState.QUEUED, JobState.FAILED}),
    **{state: frozenset() for state in TERMINAL},
}


def can_move(source: str, target: str) -> bool:
    return JobState(target) in TRANSITIONS[JobState(source)]
