"""The proposed awards of an allocation round: down the ranking, honouring each track's pool per GPU type,
the shares of each pool reserved for sectors and for organisations outside the capital area, and the
concentration caps per organisation; everything else waitlisted in ranking order. Every line says why.

Reserved shares: a share of a pool set aside for a group (a sector, or non-capital organisations) is
held for the group's applicants as long as one of them is still to be considered in that pool; others
cannot take it, and what the group does not need is released to everyone. An applicant in a group may
use the group's share and the unreserved rest. The shares of one pool add up to at most 1, so a
group's unused share is always there for its own applicants.

An application gets what it asked for or nothing (staff adjust lines afterwards). The proposal is
repeated over the waitlist until it settles, so an application passed over while a share was held gets
its turn once the share is released. Reproducible: the order is the ranking's, ties by application id.
"""

from collections import defaultdict
from dataclasses import dataclass, field

AWARD, WAITLIST = "award", "waitlist"
CAPITAL_GROUP = "non_capital"  # the regional share's group: organisations outside the capital area


@dataclass(frozen=True)
class Candidate:
    application: str
    organisation: str
    sector: str  # the organisation's type: university, sme, research_institute, …
    capital: bool  # the organisation is in the capital area
    track: str
    gpu_type: str
    gpu_hours: int  # asked for
    position: int  # in the ranking, 1 = best


@dataclass(frozen=True)
class Levers:
    pools: dict[tuple[str, str], int]  # (track, GPU type) → GPU-hours to award
    sector_shares: dict[str, float] = field(default_factory=dict)  # sector → share of every pool held for it
    regional_share: float = 0.0  # share of every pool held for organisations outside the capital area
    max_hours_per_org: int | None = None  # GPU-hours across an organisation's active awards
    max_awards_per_org: int | None = None
    existing: dict[str, tuple[int, int]] = field(default_factory=dict)  # organisation → (GPU-hours, awards)

    def problems(self) -> dict[str, str]:
        """What makes these levers unusable, by lever (empty: fine)."""
        found = {}
        shares = [*self.sector_shares.values(), self.regional_share]
        if any(not 0 <= s <= 1 for s in shares):
            found["shares"] = "each share is between 0 and 1"
        elif sum(shares) > 1 + 1e-9:
            found["shares"] = "the shares of a pool add up to at most 1"
        if any(hours < 0 for hours in self.pools.values()):
            found["pools"] = "a pool holds 0 GPU-hours or more"
        for name in ("max_hours_per_org", "max_awards_per_org"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                found[name] = "a cap is 0 or more"
        return found


@dataclass(frozen=True)
class Line:
    application: str
    position: int
    decision: str  # AWARD or WAITLIST
    reason: str  # awarded, pool_full, held_for_shares, org_hours_cap, org_awards_cap, no_pool
    params: dict
    gpu_hours: int  # awarded; 0 on the waitlist


def groups_of(candidate: Candidate, levers: Levers) -> set[str]:
    groups = set()
    if levers.sector_shares.get(candidate.sector, 0) > 0:
        groups.add(f"sector:{candidate.sector}")
    if levers.regional_share > 0 and not candidate.capital:
        groups.add(CAPITAL_GROUP)
    return groups


def propose(candidates: list[Candidate], levers: Levers) -> list[Line]:
    """One line per candidate, in ranking order: awarded, or waitlisted with the reason."""
    problems = levers.problems()
    if problems:
        raise ValueError(f"levers not usable: {problems}")
    ordered = sorted(candidates, key=lambda c: (c.position, c.application))
    reserved = {
        (pool, group): share * hours
        for pool, hours in levers.pools.items()
        for group, share in _shares(levers)
    }
    awarded: dict[str, int] = {}
    decided: dict[str, Line] = {}
    while True:
        changed = False
        left = {pool: hours - sum(awarded.get(c.application, 0) for c in ordered if (c.track, c.gpu_type) == pool)
                for pool, hours in levers.pools.items()}  # fmt: skip
        used = _group_use(ordered, awarded, levers)
        org_hours, org_awards = _org_totals(ordered, awarded, levers)
        for index, c in enumerate(ordered):
            if c.application in awarded:
                continue
            pool = (c.track, c.gpu_type)
            line = _consider(
                c, index, ordered, pool, left, reserved, used, org_hours, org_awards, awarded, levers
            )
            if line.decision == AWARD:
                awarded[c.application] = c.gpu_hours
                left[pool] -= c.gpu_hours
                for group in groups_of(c, levers):
                    used[(pool, group)] += c.gpu_hours
                org_hours[c.organisation] += c.gpu_hours
                org_awards[c.organisation] += 1
                changed = True
            if line.decision == AWARD or c.application not in decided:
                decided[c.application] = line  # a refusal keeps the reason it was first passed over for
        if not changed:
            break
    return [decided[c.application] for c in ordered]


def _shares(levers: Levers):
    yield from ((f"sector:{sector}", share) for sector, share in levers.sector_shares.items() if share > 0)
    if levers.regional_share > 0:
        yield CAPITAL_GROUP, levers.regional_share


def _group_use(ordered, awarded, levers) -> dict:
    used: dict = defaultdict(int)
    for c in ordered:
        if c.application in awarded:
            for group in groups_of(c, levers):
                used[((c.track, c.gpu_type), group)] += awarded[c.application]
    return used


def _org_totals(ordered, awarded, levers):
    hours: dict[str, int] = defaultdict(int)
    awards: dict[str, int] = defaultdict(int)
    for org, (h, n) in levers.existing.items():
        hours[org], awards[org] = h, n
    for c in ordered:
        if c.application in awarded:
            hours[c.organisation] += awarded[c.application]
            awards[c.organisation] += 1
    return hours, awards


def _cap(c, org_hours, org_awards, levers) -> tuple[str, dict] | None:
    """The concentration cap an award to ``c`` would break, if any."""
    if levers.max_awards_per_org is not None and org_awards[c.organisation] + 1 > levers.max_awards_per_org:
        return "org_awards_cap", {"cap": levers.max_awards_per_org, "has": org_awards[c.organisation]}
    if (
        levers.max_hours_per_org is not None
        and org_hours[c.organisation] + c.gpu_hours > levers.max_hours_per_org
    ):
        return "org_hours_cap", {"cap": levers.max_hours_per_org, "has": org_hours[c.organisation]}
    return None


def _consider(c, index, ordered, pool, left, reserved, used, org_hours, org_awards, awarded, levers) -> Line:
    def waitlist(reason: str, **params) -> Line:
        return Line(c.application, c.position, WAITLIST, reason, params, 0)

    if pool not in levers.pools:
        return waitlist("no_pool", track=c.track, gpu_type=c.gpu_type)
    if levers.max_awards_per_org is not None and org_awards[c.organisation] + 1 > levers.max_awards_per_org:
        return waitlist("org_awards_cap", cap=levers.max_awards_per_org, has=org_awards[c.organisation])
    if (
        levers.max_hours_per_org is not None
        and org_hours[c.organisation] + c.gpu_hours > levers.max_hours_per_org
    ):
        return waitlist("org_hours_cap", cap=levers.max_hours_per_org, has=org_hours[c.organisation])
    mine = groups_of(c, levers)
    # a group's share stays held while one of its applicants in this pool is still to be considered (ranked
    # after this one, not yet awarded: those before had their turn in this pass) and could still be
    # awarded: its request fits in what is left and no cap stops it
    waiting = {
        group
        for other in ordered[index + 1 :]
        if (other.track, other.gpu_type) == pool
        and other.application not in awarded
        and other.gpu_hours <= left[pool]
        and _cap(other, org_hours, org_awards, levers) is None
        for group in groups_of(other, levers)
    }
    held = {
        group: max(0.0, share - used[(p, group)])
        for (p, group), share in reserved.items()
        if p == pool and group not in mine and group in waiting
    }
    available = left[pool] - sum(held.values())
    if c.gpu_hours <= available + 1e-9:
        return Line(c.application, c.position, AWARD, "awarded", {"rank": c.position}, c.gpu_hours)
    if c.gpu_hours > left[pool]:
        return waitlist("pool_full", track=c.track, gpu_type=c.gpu_type, left=left[pool])
    return waitlist("held_for_shares", groups=sorted(g for g, h in held.items() if h > 0), left=left[pool])
