"""Template context: what staff should know about the scheduler and the node agents, on every page."""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from portal.ops.selectors import QuietAgent, QuietScheduler, quiet_agents, scheduler_quiet


@dataclass(frozen=True)
class OpsWarnings:
    scheduler: QuietScheduler | None = None
    agents: list[QuietAgent] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.scheduler is not None or bool(self.agents)


def ops_warnings_now() -> OpsWarnings:
    now = timezone.now()
    return OpsWarnings(scheduler=scheduler_quiet(now), agents=quiet_agents(now))


def ops_warnings(request):
    """Staff only, and read only if the page renders the banner."""
    user = getattr(request, "user", None)
    if not (user is not None and user.is_authenticated and user.is_staff):
        return {}
    return {"ops_warnings": SimpleLazyObject(ops_warnings_now)}
