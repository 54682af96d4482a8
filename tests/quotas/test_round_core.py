"""Allocation rounds' pure core (quotas/rounds): the normalised panel ranking and the proposal, with
known answers for each rule and refusal reason, and properties over random rounds: no pool, reserved
share or cap is ever exceeded, the waitlist keeps the ranking's order, the same inputs give the same
proposal whatever their order."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotas.rounds.proposal import AWARD, WAITLIST, Candidate, Levers, groups_of, propose
from quotas.rounds.ranking import Score, normalised, rank

WEIGHTS = {"merit": 1.0, "impact": 1.0}


# -- ranking ---------------------------------------------------------------------------------------------
def test_a_strict_reviewer_does_not_sink_their_applications():
    # the lenient reviewer scores a and b, the strict one c and d; each likes the first of theirs better
    scores = [
        Score("lenient", "a", {"merit": 9, "impact": 9}),
        Score("lenient", "b", {"merit": 7, "impact": 7}),
        Score("strict", "c", {"merit": 5, "impact": 5}),
        Score("strict", "d", {"merit": 3, "impact": 3}),
    ]
    ranked = rank(scores, WEIGHTS)
    by_app = {r.application: r for r in ranked}
    assert by_app["c"].score == by_app["a"].score and by_app["d"].score == by_app["b"].score
    assert by_app["c"].raw < by_app["b"].raw  # on raw scores c would rank below b
    # ties go to the higher raw score, then the id: a before c, b before d
    assert [r.application for r in ranked] == ["a", "c", "b", "d"] and [r.position for r in ranked] == [
        1,
        2,
        3,
        4,
    ]


def test_a_reviewer_who_scores_everything_alike_says_nothing_about_order():
    scores = [
        Score("flat", "a", {"merit": 6}),
        Score("flat", "b", {"merit": 6}),
        Score("other", "a", {"merit": 8}),
        Score("other", "b", {"merit": 4}),
    ]
    norm = normalised(scores)
    assert norm[("flat", "a")] == norm[("flat", "b")] == {"merit": 6.0}  # the panel's mean
    assert [r.application for r in rank(scores, {"merit": 1})] == ["a", "b"]


def test_weights_and_the_regional_bonus_move_the_order():
    scores = [
        Score("r1", "tech", {"merit": 9, "impact": 3}),
        Score("r1", "useful", {"merit": 3, "impact": 9}),
        Score("r1", "mid", {"merit": 6, "impact": 6}),
    ]
    assert rank(scores, {"merit": 3, "impact": 1})[0].application == "tech"
    assert rank(scores, {"merit": 1, "impact": 3})[0].application == "useful"
    with_bonus = rank(scores, {"merit": 1, "impact": 1}, bonus={"mid": 0.5})
    assert with_bonus[0].application == "mid" and with_bonus[0].bonus == 0.5
    with pytest.raises(ValueError):
        rank(scores, {"merit": 0})


# -- proposal: known answers ------------------------------------------------------------------------------
def cand(app, position, hours=100, org=None, sector="university", capital=True, track="small", gpu="H100"):
    return Candidate(app, org or f"org-{app}", sector, capital, track, gpu, hours, position)


def decisions(lines):
    return [(line.application, line.decision, line.reason) for line in lines]


@pytest.mark.parametrize(
    "candidates, levers, expected",
    [
        pytest.param(
            [cand("a", 1), cand("b", 2), cand("c", 3)],
            Levers(pools={("small", "H100"): 200}),
            [("a", AWARD, "awarded"), ("b", AWARD, "awarded"), ("c", WAITLIST, "pool_full")],
            id="down the ranking until the pool is spent",
        ),
        pytest.param(
            [cand("a", 1, hours=300), cand("b", 2)],
            Levers(pools={("small", "H100"): 200}),
            [("a", WAITLIST, "pool_full"), ("b", AWARD, "awarded")],
            id="a request larger than what is left waits; the next one that fits gets it",
        ),
        pytest.param(
            [cand("a", 1, sector="sme"), cand("b", 2, sector="sme"), cand("c", 3, sector="university")],
            Levers(pools={("small", "H100"): 200}, sector_shares={"university": 0.5}),
            [("a", AWARD, "awarded"), ("b", WAITLIST, "held_for_shares"), ("c", AWARD, "awarded")],
            id="a sector's share is held for it while one of its applicants is still to come",
        ),
        pytest.param(
            [
                cand("a", 1, sector="sme"),
                cand("b", 2, sector="sme"),
                cand("c", 3, sector="university", hours=300),
            ],
            Levers(pools={("small", "H100"): 200}, sector_shares={"university": 0.5}),
            [("a", AWARD, "awarded"), ("b", AWARD, "awarded"), ("c", WAITLIST, "pool_full")],
            id="a share its applicants cannot use is released to the others",
        ),
        pytest.param(
            [cand("a", 1), cand("b", 2), cand("c", 3, capital=False)],
            Levers(pools={("small", "H100"): 200}, regional_share=0.5),
            [("a", AWARD, "awarded"), ("b", WAITLIST, "held_for_shares"), ("c", AWARD, "awarded")],
            id="the regional share is held for organisations outside the capital area",
        ),
        pytest.param(
            [cand("a", 1, org="big"), cand("b", 2, org="big"), cand("c", 3)],
            Levers(pools={("small", "H100"): 1000}, max_awards_per_org=1),
            [("a", AWARD, "awarded"), ("b", WAITLIST, "org_awards_cap"), ("c", AWARD, "awarded")],
            id="at most so many awards per organisation",
        ),
        pytest.param(
            [cand("a", 1, org="big"), cand("b", 2)],
            Levers(pools={("small", "H100"): 1000}, max_hours_per_org=150, existing={"big": (100, 1)}),
            [("a", WAITLIST, "org_hours_cap"), ("b", AWARD, "awarded")],
            id="the hours cap counts the organisation's active awards",
        ),
        pytest.param(
            [cand("a", 1, track="large"), cand("b", 2, gpu="A100")],
            Levers(pools={("small", "H100"): 1000, ("large", "H100"): 100}),
            [("a", AWARD, "awarded"), ("b", WAITLIST, "no_pool")],
            id="each track and GPU type has its own pool",
        ),
    ],
)
def test_each_rule_and_refusal(candidates, levers, expected):
    assert decisions(propose(candidates, levers)) == expected


def test_every_line_says_why_with_its_figures():
    lines = propose([cand("a", 1, hours=150), cand("b", 2)], Levers(pools={("small", "H100"): 200}))
    assert lines[0].params == {"rank": 1} and lines[0].gpu_hours == 150
    assert lines[1].params == {"track": "small", "gpu_type": "H100", "left": 50} and lines[1].gpu_hours == 0


@pytest.mark.parametrize(
    "levers, lever",
    [
        (Levers(pools={}, sector_shares={"sme": 0.7}, regional_share=0.4), "shares"),
        (Levers(pools={}, sector_shares={"sme": 1.5}), "shares"),
        (Levers(pools={("t", "H100"): -1}), "pools"),
        (Levers(pools={}, max_awards_per_org=-1), "max_awards_per_org"),
    ],
)
def test_levers_that_cannot_be_honoured_are_refused_by_name(levers, lever):
    assert lever in levers.problems()
    with pytest.raises(ValueError, match=lever):
        propose([], levers)


# -- properties over random rounds ------------------------------------------------------------------------
SECTORS = ["university", "sme", "startup", "research_institute", "public_institution"]


@st.composite
def rounds(draw):
    n = draw(st.integers(1, 40))
    orgs = [f"o{i}" for i in range(draw(st.integers(1, 12)))]
    tracks = [("small", "H100"), ("large", "H100"), ("small", "A100")]
    candidates = [
        Candidate(
            f"app{i:03d}",
            draw(st.sampled_from(orgs)),
            draw(st.sampled_from(SECTORS)),
            draw(st.booleans()),
            *draw(st.sampled_from(tracks)),
            draw(st.integers(10, 400)),
            i + 1,
        )
        for i in range(n)
    ]
    shares = {s: draw(st.sampled_from([0.0, 0.1, 0.2])) for s in SECTORS[:3]}
    levers = Levers(
        pools={pool: draw(st.integers(0, 2000)) for pool in tracks[: draw(st.integers(1, 3))]},
        sector_shares=shares,
        regional_share=draw(st.sampled_from([0.0, 0.2, 0.3])),
        max_hours_per_org=draw(st.one_of(st.none(), st.integers(50, 1500))),
        max_awards_per_org=draw(st.one_of(st.none(), st.integers(1, 4))),
        existing={org: (draw(st.integers(0, 300)), draw(st.integers(0, 2))) for org in orgs[:2]},
    )
    return candidates, levers


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_no_pool_share_or_cap_is_ever_exceeded_and_the_waitlist_keeps_the_ranking(round_):
    candidates, levers = round_
    lines = propose(candidates, levers)
    by_app = {c.application: c for c in candidates}
    awarded = [by_app[line.application] for line in lines if line.decision == AWARD]
    for pool, hours in levers.pools.items():
        assert sum(c.gpu_hours for c in awarded if (c.track, c.gpu_type) == pool) <= hours
    for org in {c.organisation for c in candidates}:
        had_hours, had_awards = levers.existing.get(org, (0, 0))
        mine = [c for c in awarded if c.organisation == org]
        if levers.max_hours_per_org is not None:
            assert had_hours + sum(c.gpu_hours for c in mine) <= max(levers.max_hours_per_org, had_hours)
        if levers.max_awards_per_org is not None:
            assert had_awards + len(mine) <= max(levers.max_awards_per_org, had_awards)
    # a reserved share is never taken from its group: a waitlisted member whose request fits in what is
    # left of its group's share was refused for a cap, never for room
    for line in lines:
        c = by_app[line.application]
        if line.decision != WAITLIST or line.reason not in ("pool_full", "held_for_shares"):
            continue
        pool = (c.track, c.gpu_type)
        for group in groups_of(c, levers):
            share = levers.regional_share if group == "non_capital" else levers.sector_shares[group[7:]]
            used = sum(
                a.gpu_hours
                for a in awarded
                if (a.track, a.gpu_type) == pool and group in groups_of(a, levers)
            )
            assert c.gpu_hours > share * levers.pools[pool] - used - 1e-6
    waitlist = [line.position for line in lines if line.decision == WAITLIST]
    assert waitlist == sorted(waitlist)
    # the same inputs in another order give the same proposal
    shuffled = candidates[:]
    random.Random(len(candidates)).shuffle(shuffled)
    assert propose(shuffled, levers) == lines
