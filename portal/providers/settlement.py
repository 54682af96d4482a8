"""Settlement arithmetic: what the programme owes each provider per contract and month, and what sat idle.

Pure: contracts' terms and the GPU-hours really used on each provider's GPUs of a type in each month
in, one line per contract and month out. A contract's rented GPU-hours in a month are its GPUs times
the hours of the month inside its period (whole days, Korea keeps no daylight saving). Usage of a
provider's type in a month is matched to that month's contracts reserved first (already paid for),
then on demand from the cheapest; usage beyond every contract's rented hours is reported apart as
unmatched (capacity in use that no contract covers: for staff to chase, never silently priced).
A reserved contract owes all its rented hours, used or not, and its unused hours are the programme's
idle waste; an on-demand contract owes what was matched to it.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

RESERVED, ON_DEMAND = "reserved", "on_demand"
WON = Decimal("1")  # amounts are rounded to whole won, half up, per line


@dataclass(frozen=True)
class ContractTerms:
    contract_id: str
    provider: str
    gpu_type: str
    gpus: int
    starts_on: date
    ends_on: date  # inclusive
    price_krw_per_gpu_hour: Decimal
    kind: str


@dataclass(frozen=True)
class ContractMonth:
    contract_id: str
    provider: str
    gpu_type: str
    month: date  # its first day
    kind: str
    rented_gpu_hours: Decimal
    used_gpu_hours: Decimal
    idle_reserved_gpu_hours: Decimal  # rented, paid, unused (reserved contracts only)
    owed_krw: Decimal
    utilisation: float | None  # used ÷ rented


@dataclass(frozen=True)
class Unmatched:
    provider: str
    gpu_type: str
    month: date
    gpu_hours: Decimal


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months_of(terms: ContractTerms) -> list[date]:
    months, month = [], month_start(terms.starts_on)
    while month <= terms.ends_on:
        months.append(month)
        month = next_month(month)
    return months


def rented_gpu_hours(terms: ContractTerms, month: date) -> Decimal:
    first = max(month, terms.starts_on)
    last = min(next_month(month) - timedelta(days=1), terms.ends_on)
    days = (last - first).days + 1
    return Decimal(max(0, days) * 24 * terms.gpus)


def _match_order(terms: ContractTerms) -> tuple:
    return (terms.kind != RESERVED, terms.price_krw_per_gpu_hour, terms.starts_on, terms.contract_id)


def settle(
    contracts: Iterable[ContractTerms], used: dict[tuple[str, str, date], Decimal]
) -> tuple[list[ContractMonth], list[Unmatched]]:
    """``used``: (provider, GPU type, first day of month) → GPU-hours used there."""
    groups: dict[tuple[str, str, date], list[ContractTerms]] = defaultdict(list)
    for terms in contracts:
        for month in months_of(terms):
            groups[(terms.provider, terms.gpu_type, month)].append(terms)
    lines: list[ContractMonth] = []
    unmatched: list[Unmatched] = []
    for key in sorted(set(groups) | set(used)):
        provider, gpu_type, month = key
        left = Decimal(used.get(key, 0))
        for terms in sorted(groups.get(key, ()), key=_match_order):
            rented = rented_gpu_hours(terms, month)
            matched = min(left, rented)
            left -= matched
            reserved = terms.kind == RESERVED
            owed = (rented if reserved else matched) * terms.price_krw_per_gpu_hour
            lines.append(
                ContractMonth(
                    contract_id=terms.contract_id,
                    provider=provider,
                    gpu_type=gpu_type,
                    month=month,
                    kind=terms.kind,
                    rented_gpu_hours=rented,
                    used_gpu_hours=matched,
                    idle_reserved_gpu_hours=rented - matched if reserved else Decimal(0),
                    owed_krw=owed.quantize(WON, rounding="ROUND_HALF_UP"),
                    utilisation=float(matched / rented) if rented else None,
                )
            )
        if left > 0:
            unmatched.append(Unmatched(provider, gpu_type, month, left))
    return lines, unmatched
