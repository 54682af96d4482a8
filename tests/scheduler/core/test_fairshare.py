"""Fair-share order with decayed usage, and age that keeps anything from starving."""

from dataclasses import replace

import pytest

from scheduler.core import Entitlement, Policy, Priority, plan
from scheduler.core.fairshare import decay, fairshare_factors, gpu_shares
from tests.scheduler.core.builders import HOUR, allocation, node, queued, running, snapshot

DAY = 24 * HOUR


@pytest.mark.parametrize(
    ("usage", "elapsed", "half_life", "expected"),
    [
        (100.0, 0.0, 7 * DAY, 100.0),
        (100.0, 7 * DAY, 7 * DAY, 50.0),
        (100.0, 14 * DAY, 7 * DAY, 25.0),
        (100.0, 1.0, 0.0, 0.0),
    ],
)
def test_it_decays_usage_by_half_life(usage, elapsed, half_life, expected):
    assert decay(usage, elapsed, half_life) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("allocations", "expected"),
    [
        ([allocation("a", usage=0), allocation("b", usage=0)], {"a": 1.0, "b": 1.0}),
        # equal shares, a used everything: U=1, S=0.5 → 2^-2
        ([allocation("a", usage=10), allocation("b", usage=0)], {"a": 0.25, "b": 1.0}),
        # a has 3× the weight of b and used 3/4: U/S = 1 for both → 0.5 each (using exactly one's share)
        ([allocation("a", weight=3, usage=30), allocation("b", weight=1, usage=10)], {"a": 0.5, "b": 0.5}),
        ([allocation("a", weight=0, usage=0), allocation("b", usage=0)], {"a": 0.0, "b": 1.0}),
    ],
)
def test_it_computes_fairshare_factors(allocations, expected):
    assert fairshare_factors(tuple(allocations)) == pytest.approx(expected)


def test_it_orders_the_light_user_first():
    snap = snapshot(
        [node("n1", free=4)],
        [
            queued("heavy", 4, allocation="a", submitted_at=0),
            queued("light", 4, allocation="b", submitted_at=10),
        ],
        allocations=[allocation("a", usage=1000), allocation("b", usage=0)],
        now=20,
    )
    result = plan(snap)
    assert result.order == ("light", "heavy")
    assert [s.job_id for s in result.starts] == ["light"]


def test_it_lets_an_old_job_overtake_any_fresh_job_so_nothing_starves():
    policy = Policy(max_age_s=DAY)
    snap = snapshot(
        [node("n1", free=4)],
        [
            queued("old_heavy", 4, allocation="a", submitted_at=0),
            queued("fresh_light", 4, allocation="b", submitted_at=DAY),
        ],
        allocations=[allocation("a", usage=10**9), allocation("b", usage=0)],
        now=DAY,
        policy=policy,
    )
    assert plan(snap).order == ("old_heavy", "fresh_light")


def test_it_puts_high_before_normal_before_low():
    snap = snapshot(
        [node("n1", free=0)],
        [
            queued("low", priority=Priority.LOW),
            queued("normal", submitted_at=5),
            queued("high", priority=Priority.HIGH, submitted_at=9),
        ],
        run=[running("r", "n1", 8, ends_at=HOUR)],
    )
    assert plan(snap).order == ("high", "normal", "low")


def test_it_divides_gpus_by_weight_among_allocations_with_demand():
    snap = snapshot(
        [node("n1"), node("n2")],
        [queued("a1", allocation="a"), queued("b1", allocation="b")],
        allocations=[allocation("a", weight=3), allocation("b", weight=1), allocation("idle", weight=100)],
    )
    assert gpu_shares(snap) == {("a", "A100"): 12.0, ("b", "A100"): 4.0}


def test_guaranteed_shares_divide_gpus_among_every_allocation_demand_or_not():
    snap = snapshot(
        [node("n1"), node("n2")],
        [queued("a1", allocation="a"), queued("b1", allocation="b")],
        allocations=[allocation("a", weight=2), allocation("b", weight=1), allocation("idle", weight=1)],
    )
    assert gpu_shares(snap, guaranteed=True) == {
        ("a", "A100"): 8.0,
        ("b", "A100"): 4.0,
        ("idle", "A100"): 4.0,
    }
    assert gpu_shares(snap) == {("a", "A100"): 16 * 2 / 3, ("b", "A100"): 16 / 3}


def test_guaranteed_shares_follow_the_entitlements_per_gpu_type_where_given():
    snap = replace(
        snapshot(
            [node("n1"), node("n2"), node("h1", gpu_type="H100")],
            [queued("a1", allocation="a"), queued("b1", allocation="b", gpu_type="H100")],
            allocations=[allocation("a"), allocation("b")],
        ),
        entitlements=(
            Entitlement("a", "A100", 300),
            Entitlement("idle", "A100", 100),
            Entitlement("b", "H100", 50),
            Entitlement("a", "H100", 50),
        ),
    )
    assert gpu_shares(snap, guaranteed=True) == {
        ("a", "A100"): 12.0,
        ("idle", "A100"): 4.0,
        ("b", "H100"): 4.0,
        ("a", "H100"): 4.0,
    }
    # by demand: a alone wants A100, b alone H100; entitlements play no part
    assert gpu_shares(snap) == {("a", "A100"): 16.0, ("b", "H100"): 8.0}
