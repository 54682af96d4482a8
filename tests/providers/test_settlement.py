"""Settlement arithmetic (portal/providers/settlement.py): table-driven, known answers."""

from datetime import date
from decimal import Decimal

import pytest

from portal.providers.settlement import (
    ON_DEMAND,
    RESERVED,
    ContractTerms,
    Unmatched,
    months_of,
    rented_gpu_hours,
    settle,
)

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


def terms(cid="c1", *, kind=RESERVED, gpus=10, price="1000", starts=JAN, ends=date(2026, 12, 31), gpu="H100"):
    return ContractTerms(cid, "Provider A", gpu, gpus, starts, ends, Decimal(price), kind)


@pytest.mark.parametrize(
    "contract, month, hours",
    [
        (terms(), JAN, 10 * 31 * 24),
        (terms(), FEB, 10 * 28 * 24),  # 2026 is not a leap year
        (terms(starts=date(2026, 1, 16)), JAN, 10 * 16 * 24),  # from the 16th: 16 days
        (terms(ends=date(2026, 2, 1)), FEB, 10 * 1 * 24),  # the last day counts
        (terms(starts=date(2028, 2, 1), ends=date(2028, 2, 29)), date(2028, 2, 1), 10 * 29 * 24),  # leap
        (terms(starts=FEB), JAN, 0),  # not yet
    ],
)
def test_rented_hours_are_the_gpus_times_the_hours_of_the_month_inside_the_period(contract, month, hours):
    assert rented_gpu_hours(contract, month) == hours


def test_a_contract_spans_the_months_it_touches():
    assert months_of(terms(starts=date(2025, 12, 20), ends=date(2026, 2, 3))) == [date(2025, 12, 1), JAN, FEB]


@pytest.mark.parametrize(
    "contracts, used, expected",
    [
        # a reserved contract owes all its hours; what was not used is idle waste
        (
            [terms(gpus=1)],
            {JAN: "600"},
            [("c1", JAN, "744", "600", "144", "744000", 600 / 744)],
        ),
        # usage fills reserved capacity first (already paid), then the cheaper on-demand contract
        (
            [
                terms("dear", kind=ON_DEMAND, gpus=1, price="2000"),
                terms("cheap", kind=ON_DEMAND, gpus=1, price="1500"),
                terms("paid", gpus=1),
            ],
            {JAN: "1000"},
            [
                ("paid", JAN, "744", "744", "0", "744000", 1.0),
                ("cheap", JAN, "744", "256", "0", "384000", 256 / 744),
                ("dear", JAN, "744", "0", "0", "0", 0.0),
            ],
        ),
        # nothing used: a reserved contract still owes; on demand owes nothing
        (
            [terms("r", gpus=1), terms("o", kind=ON_DEMAND, gpus=1)],
            {},
            [("r", JAN, "744", "0", "744", "744000", 0.0), ("o", JAN, "744", "0", "0", "0", 0.0)],
        ),
        # whole won, half up
        (
            [terms(gpus=1, price="0.50", kind=ON_DEMAND)],
            {JAN: "3"},
            [("c1", JAN, "744", "3", "0", "2", 3 / 744)],
        ),
    ],
)
def test_each_contract_month_owes_and_wastes_what_its_terms_say(contracts, used, expected):
    contracts = [
        ContractTerms(
            c.contract_id,
            c.provider,
            c.gpu_type,
            c.gpus,
            JAN,
            date(2026, 1, 31),
            c.price_krw_per_gpu_hour,
            c.kind,
        )
        for c in contracts
    ]
    lines, unmatched = settle(contracts, {("Provider A", "H100", m): Decimal(h) for m, h in used.items()})
    got = [
        (
            line.contract_id,
            line.month,
            str(line.rented_gpu_hours),
            str(line.used_gpu_hours),
            str(line.idle_reserved_gpu_hours),
            str(line.owed_krw),
            pytest.approx(line.utilisation),
        )
        for line in lines
    ]
    assert got == [(c, m, r, u, i, o, pytest.approx(x)) for c, m, r, u, i, o, x in expected]
    assert unmatched == []


def test_usage_no_contract_covers_is_reported_apart_never_priced():
    contract = terms(gpus=1, ends=date(2026, 1, 31))
    used = {
        ("Provider A", "H100", JAN): Decimal(800),  # 56 h beyond the 744 rented
        ("Provider A", "H100", FEB): Decimal(5),  # the contract has ended
        ("Provider A", "H200", JAN): Decimal(7),  # no H200 contract at all
    }
    lines, unmatched = settle([contract], used)
    assert [(line.month, line.used_gpu_hours, line.owed_krw) for line in lines] == [(JAN, 744, 744000)]
    assert unmatched == [
        Unmatched("Provider A", "H100", JAN, Decimal(56)),
        Unmatched("Provider A", "H100", FEB, Decimal(5)),
        Unmatched("Provider A", "H200", JAN, Decimal(7)),
    ]


def test_a_contract_across_months_settles_each_month_on_its_own_usage():
    lines, _ = settle([terms(gpus=2, ends=MAR.replace(day=31))], {("Provider A", "H100", FEB): Decimal(1000)})
    assert [(line.month, line.rented_gpu_hours, line.used_gpu_hours) for line in lines] == [
        (JAN, 1488, 0),
        (FEB, 1344, 1000),
        (MAR, 1488, 0),
    ]
