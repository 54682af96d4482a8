"""Concurrent awards on real PostgreSQL: pools are never over-awarded, approvals never doubled,
and change requests never lose an update. Threads each hold their own connection (own transaction).
"""

import multiprocessing
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from portal.applications.models import Application
from portal.audit.models import AuditEvent
from portal.errors import Conflict, ServiceError
from quotas import services as quota_services
from quotas.models import Allocation, AllocationBudget, CallPool
from quotas.services import allocation_award
from tests import builders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 60


def _run_together(functions) -> list:
    """Run each function in its own thread and connection, all released by one barrier.

    Returns each function's result, or the exception it raised.
    """
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def work(index, function):
        try:
            connection.ensure_connection()  # connect first, so that connecting does not stagger the start
            barrier.wait(timeout=JOIN_TIMEOUT)
            results[index] = function()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, f), daemon=True) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return results


def _approver(application, staff, awarded=None):
    return lambda: quota_services.application_decide(
        application=application,
        staff=staff,
        decision="approve",
        reason="Parallel panel",
        awarded_gpu_hours=awarded,
    )


def _codes(results) -> list[str]:
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ServiceError)]
    assert not unexpected, unexpected
    return ["ok" if not isinstance(r, BaseException) else r.code for r in results]


def _staff(count):
    return [builders.make_user(staff=True) for _ in range(count)]


def _assert_pool_consistent(call, gpu_type="A100"):
    pool = CallPool.objects.get(call=call, gpu_type=gpu_type)
    budgets = sum(
        AllocationBudget.objects.filter(allocation__call=call, gpu_type=gpu_type).values_list(
            "awarded_gpu_hours", flat=True
        )
    )
    assert pool.awarded_gpu_hours == budgets <= pool.total_gpu_hours
    return pool


@pytest.mark.parametrize(
    ("pool_total", "requests", "expected_successes"),
    [
        (5_000, [3_000, 3_000], 1),
        (10_000, [3_000] * 8, 3),
        (10_000, [4_000] * 5 + [2_000] * 3, None),  # mixed sizes: who wins depends on timing
    ],
    ids=["two-staff", "eight-staff", "eight-staff-mixed"],
)
def test_it_never_over_awards_a_pool(
    owner, organisation, staff, reviewer, pool_total, requests, expected_successes
):
    call = builders.make_call(staff, pools={"A100": (pool_total, 4_000)})
    applications = [
        builders.ready_for_decision(owner, organisation, call, staff, reviewer, gpu_requests={"A100": hours})
        for hours in requests
    ]
    deciders = _staff(len(applications))

    codes = _codes(_run_together([_approver(a, s) for a, s in zip(applications, deciders, strict=True)]))

    assert set(codes) <= {"ok", "pool_exhausted"}
    pool = _assert_pool_consistent(call)
    won = [hours for hours, code in zip(requests, codes, strict=True) if code == "ok"]
    lost = [hours for hours, code in zip(requests, codes, strict=True) if code != "ok"]
    assert pool.awarded_gpu_hours == sum(won)
    if expected_successes is not None:
        assert len(won) == expected_successes
    # Every refusal was right: even what is left at the end cannot cover it.
    assert all(hours > pool.available_gpu_hours for hours in lost)
    assert lost, "the pool was meant to be too small for everyone"
    assert Allocation.objects.filter(call=call).count() == len(won)
    states = [Application.objects.get(pk=a.pk).state for a in applications]
    assert states == ["approved" if code == "ok" else "under_review" for code in codes]


@pytest.mark.parametrize("approvers", [2, 8])
def test_it_approves_the_same_application_only_once(owner, organisation, call, staff, reviewer, approvers):
    application = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": 1000}
    )

    codes = _codes(_run_together([_approver(application, s) for s in _staff(approvers)]))

    assert sorted(codes) == ["illegal_transition"] * (approvers - 1) + ["ok"]
    assert Allocation.objects.filter(application=application).count() == 1
    assert _assert_pool_consistent(call).awarded_gpu_hours == 1000
    assert AuditEvent.objects.filter(target_id=application.public_id, action="approve").count() == 1


def test_it_never_loses_a_concurrent_change_to_one_allocation(
    owner, organisation, staff, reviewer, reviewer2
):
    call = builders.make_call(staff, pools={"A100": (100_000, 20_000), "H100": (10_000, 5_000)})
    allocation = builders.approved(owner, organisation, call, staff, reviewer, gpu_requests={"A100": 1000})
    start_end = allocation.ends_on
    # Half add A100 hours (an existing budget), half add H100 (a budget the first of them creates).
    plans = [
        ({"A100": 500}, 3),
        ({"H100": 200}, 9),
        ({"A100": 500}, 5),
        ({"H100": 200}, 1),
        ({"A100": 500}, 7),
        ({"H100": 200}, 2),
    ]
    changes = [
        builders.change_request_ready(
            owner,
            allocation,
            staff,
            reviewer2,
            gpu_requests=hours,
            requested_end=start_end + timedelta(days=days),
        )
        for hours, days in plans
    ]

    codes = _codes(
        _run_together([_approver(c, s) for c, s in zip(changes, _staff(len(changes)), strict=True)])
    )

    assert codes == ["ok"] * len(changes)
    allocation.refresh_from_db()
    assert dict(allocation.budgets.values_list("gpu_type", "awarded_gpu_hours")) == {
        "A100": 2500,
        "H100": 600,
    }
    assert allocation.ends_on == start_end + timedelta(days=9)
    assert _assert_pool_consistent(call, "A100").awarded_gpu_hours == 2500
    assert _assert_pool_consistent(call, "H100").awarded_gpu_hours == 600
    assert AuditEvent.objects.filter(target_id=allocation.public_id, action="allocation_changed").count() == 6


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _wait_until_blocked(waiter_pid: int, holder_pid: int, deadline_s: float = 15) -> None:
    """Poll PostgreSQL until ``waiter_pid`` is waiting for a lock that ``holder_pid`` holds."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s = ANY(pg_blocking_pids(%s))", [holder_pid, waiter_pid])
            if cursor.fetchone()[0]:
                return
    raise AssertionError(f"backend {waiter_pid} never waited on {holder_pid}")


class _Holder(threading.Thread):
    """Approves inside an outer transaction and keeps it open (locks held) until released."""

    def __init__(self, application, staff):
        super().__init__(daemon=True)
        self.application, self.staff = application, staff
        self.approved = threading.Event()
        self.release = threading.Event()
        self.pid = None
        self.error = None

    def run(self):
        try:
            self.pid = _backend_pid()
            with transaction.atomic():
                allocation_award(application=self.application, staff=self.staff, reason="First")
                self.approved.set()
                assert self.release.wait(JOIN_TIMEOUT), "never released"
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            self.approved.set()
        finally:
            connection.close()


class _Contender(threading.Thread):
    def __init__(self, application, staff):
        super().__init__(daemon=True)
        self.application, self.staff = application, staff
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.pid = None
        self.result = None

    def run(self):
        try:
            self.pid = _backend_pid()
            self.connected.set()
            self.result = allocation_award(application=self.application, staff=self.staff, reason="Second")
        except BaseException as exc:  # noqa: BLE001
            self.result = exc
        finally:
            self.finished.set()
            self.connected.set()
            connection.close()


def _hold_then_contend(first, second, staff_a, staff_b, while_blocked=None):
    """A approves and holds its locks; B tries meanwhile. Returns B's result after proving B waited on A."""
    holder = _Holder(first, staff_a)
    holder.start()
    assert holder.approved.wait(JOIN_TIMEOUT)
    assert holder.error is None, holder.error
    contender = _Contender(second, staff_b)
    contender.start()
    try:
        assert contender.connected.wait(JOIN_TIMEOUT)
        _wait_until_blocked(contender.pid, holder.pid)
        assert not contender.finished.is_set()  # B is stuck behind A's lock, not done
        if while_blocked:
            while_blocked()
    finally:
        holder.release.set()
        holder.join(JOIN_TIMEOUT)
        contender.join(JOIN_TIMEOUT)
    assert not holder.is_alive() and not contender.is_alive()
    assert holder.error is None, holder.error
    return contender.result


@pytest.mark.parametrize(("second_hours", "fits"), [(2_000, True), (2_001, False)])
def test_it_makes_a_second_award_wait_for_the_first_and_see_it(
    owner, organisation, staff, reviewer, second_hours, fits
):
    call = builders.make_call(staff, pools={"A100": (5_000, 4_000)})
    first = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": 3_000}
    )
    second = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": second_hours}
    )
    staff_a, staff_b = _staff(2)

    def nothing_visible_yet():
        # A's award is invisible outside A's transaction until it commits.
        assert CallPool.objects.get(call=call, gpu_type="A100").awarded_gpu_hours == 0

    result = _hold_then_contend(first, second, staff_a, staff_b, while_blocked=nothing_visible_yet)

    pool = _assert_pool_consistent(call)
    if fits:
        assert isinstance(result, Application) and result.state == "approved"
        assert pool.awarded_gpu_hours == 5_000
    else:
        assert isinstance(result, Conflict) and result.code == "pool_exhausted"
        # B judged the pool by A's committed award, not by what it saw before waiting.
        assert result.fields["awarded_gpu_hours"] == [
            "A100: 2,001 GPU-hours asked, 2,000 left in the call's pool."
        ]
        assert pool.awarded_gpu_hours == 3_000


def test_it_makes_a_second_approval_of_the_same_application_wait_and_fail(
    owner, organisation, call, staff, reviewer
):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    staff_a, staff_b = _staff(2)

    result = _hold_then_contend(application, application, staff_a, staff_b)

    assert isinstance(result, Conflict) and result.code == "illegal_transition"
    assert Allocation.objects.filter(application=application).count() == 1
    assert _assert_pool_consistent(call).awarded_gpu_hours == 2000


def test_it_serialises_changes_to_one_allocation_even_from_different_pools(
    owner, organisation, staff, reviewer, reviewer2
):
    """Two changes drawing on different pools still queue on the allocation row: neither loses the other."""
    call = builders.make_call(staff, pools={"A100": (100_000, 20_000), "H100": (10_000, 5_000)})
    allocation = builders.approved(owner, organisation, call, staff, reviewer, gpu_requests={"A100": 1000})
    start_end = allocation.ends_on
    later = builders.change_request_ready(
        owner,
        allocation,
        staff,
        reviewer2,
        gpu_requests={"H100": 300},
        requested_end=start_end + timedelta(days=9),
    )
    sooner = builders.change_request_ready(
        owner,
        allocation,
        staff,
        reviewer2,
        gpu_requests={"A100": 400},
        requested_end=start_end + timedelta(days=3),
    )
    staff_a, staff_b = _staff(2)

    result = _hold_then_contend(later, sooner, staff_a, staff_b)

    assert isinstance(result, Application) and result.state == "approved"
    allocation.refresh_from_db()
    assert allocation.ends_on == start_end + timedelta(days=9)  # the sooner end did not overwrite the later
    assert dict(allocation.budgets.values_list("gpu_type", "awarded_gpu_hours")) == {
        "A100": 1400,
        "H100": 300,
    }


def test_it_never_over_awards_across_processes(owner, organisation, staff, reviewer):
    """The same race with separate interpreters (spawned), so nothing is shared but the database."""
    call = builders.make_call(staff, pools={"A100": (7_000, 4_000)})
    applications = [
        builders.ready_for_decision(owner, organisation, call, staff, reviewer, gpu_requests={"A100": 3_000})
        for _ in range(4)
    ]
    deciders = _staff(len(applications))
    from tests.quotas._concurrent_approver import approve_in_own_process

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(applications)), context.Queue()
    processes = [
        context.Process(
            target=approve_in_own_process,
            args=(connection.settings_dict["NAME"], a.pk, s.pk, barrier, results),
        )
        for a, s in zip(applications, deciders, strict=True)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(JOIN_TIMEOUT)
        assert process.exitcode == 0

    assert len({pid for *_, pid in outcomes}) == len(applications)  # really separate processes
    codes = sorted(code for _, code, _ in outcomes)
    assert codes == ["approved", "approved", "pool_exhausted", "pool_exhausted"]
    assert _assert_pool_consistent(call).awarded_gpu_hours == 6_000
