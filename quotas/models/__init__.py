"""The quotas app's models: pools, allocations and the ledger (allocations.py); rounds and what follows
an award from one (rounds.py)."""

from quotas.models.allocations import (  # noqa: F401
    SECONDS_PER_HOUR,
    Allocation,
    AllocationBudget,
    AllocationStatus,
    CallPool,
    LedgerEntry,
    UsageRecord,
    UsageSource,
)
from quotas.models.rounds import (  # noqa: F401
    Agreement,
    AgreementState,
    AllocationRound,
    AllocationStage,
    LineDecision,
    LineOutcome,
    MisuseKind,
    MisuseReport,
    OutcomeReport,
    Reclaim,
    ReclaimState,
    RoundLine,
    RoundState,
    StageState,
    UsageCheck,
    UsageCheckAction,
)
