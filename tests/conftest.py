"""Shared fixtures: a cast of users (owner, teammate, outsider, reviewer, staff) around one call.

Tests that need a real server are marked (postgres, rabbitmq, redis, gpu) and skip, with the reason,
where that server is not configured; CI (.ci/run) configures all three. Tests marked ``sandbox`` run jobs
in the local backend's sandbox and skip where it cannot work (no bubblewrap, not root); CI installs
bubblewrap, and GPUGRANT_REQUIRE_SERVICES=1 requires it. Tests marked ``cluster`` run
against the local Kubernetes control plane (tests/cluster) and skip where it is not built; CI builds it
and sets GPUGRANT_REQUIRE_CLUSTER=1, which turns those skips into failures.
"""

import os
import uuid

import pytest
from django.db import connection

from quotas import services as quota_services
from quotas.models import Allocation
from scheduler.backends.local import sandbox_unavailable_reason
from tests import builders
from tests.cluster.controlplane import missing_reason as cluster_missing_reason
from tests.scheduler.fakes import ScriptedBackend

pytest_plugins = ["tests.cluster.fixtures"]


def _skip_reasons() -> dict[str, str | None]:
    database_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return {
        "postgres": None
        if database_url.startswith(("postgres://", "postgresql://"))
        else "needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)",
        "rabbitmq": None
        if broker.startswith("amqp://")
        else "needs RabbitMQ: set CELERY_BROKER_URL=amqp://... (.ci/run does)",
        "redis": None
        if os.environ.get("REDIS_URL", "").startswith("redis://")
        else "needs Redis: set REDIS_URL=redis://... (.ci/run does)",
        "k8s": None
        if os.environ.get("KUBECONFIG")
        else "needs a real Kubernetes cluster: set KUBECONFIG=... (docs/kubernetes.md)",
        "cluster": cluster_missing_reason(),
        "sandbox": _sandbox_skip_reason(),
    }


def _sandbox_skip_reason() -> str | None:
    reason = sandbox_unavailable_reason()
    return f"needs the local backend's sandbox (bubblewrap, as root): {reason}" if reason else None


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox: runs jobs in the local backend's sandbox; CI requires it")


# What GPUGRANT_REQUIRE_SERVICES=1 insists on. An operator's own cluster (k8s) never is: CI has none;
# CI's real cluster is the local control plane (cluster), which GPUGRANT_REQUIRE_CLUSTER=1 insists on.
REQUIRED_SERVICES = ("postgres", "rabbitmq", "redis", "sandbox")


def pytest_collection_modifyitems(config, items):
    reasons = _skip_reasons()
    if os.environ.get("GPUGRANT_REQUIRE_SERVICES") == "1":
        missing = {marker: reasons[marker] for marker in REQUIRED_SERVICES if reasons[marker]}
        if missing:
            raise pytest.UsageError(f"GPUGRANT_REQUIRE_SERVICES=1 but: {missing}")
    if os.environ.get("GPUGRANT_REQUIRE_CLUSTER") == "1" and reasons["cluster"]:
        raise pytest.UsageError(f"GPUGRANT_REQUIRE_CLUSTER=1 but: {reasons['cluster']}")
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _isolated_settings(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Each test gets its own cache namespace, so throttles and counters never leak between tests.

    Changing CACHES through the settings fixture makes Django rebuild its cache handlers.
    """
    prefix = f"gpugrant-test-{uuid.uuid4().hex}"
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    yield
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)  # noqa: SLF001 - delete only this test's keys
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        for pool in cache._cache._pools.values():  # noqa: SLF001 - each test's client has its own pool
            pool.disconnect()
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_node_sizes():
    """Admission trusts the node sizes it read for a few seconds; each test starts from its own nodes."""
    from scheduler.services import node_sizes_forget
    from scheduler.triggers import cycle_requests_forget

    node_sizes_forget()
    cycle_requests_forget()  # each test's cache is its own: its coalescing key too


@pytest.fixture(autouse=True)
def _default_language():
    """A test that leaves Korean active (a request in Korean, an override not undone) must not make the
    next test's messages Korean: messages asserted in English failed depending on the order tests ran in."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_environments_catalogue():
    """Submission trusts the catalogue it read for a few seconds; each test starts from its own."""
    from portal.environments.selectors import environment_cache_forget

    environment_cache_forget()


@pytest.fixture(autouse=True)
def ledger_balanced(request):
    """After every database test: usage records, ledger debits and budgets' used GPU-seconds agree."""
    yield
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    from django.db.models import Sum

    from quotas.models import AllocationBudget, LedgerEntry, UsageRecord

    usage = UsageRecord.objects.aggregate(s=Sum("gpu_seconds"))["s"] or 0
    debits = LedgerEntry.objects.aggregate(s=Sum("gpu_seconds"))["s"] or 0
    assert usage == debits, f"usage records {usage} GPU-s ≠ ledger debits {debits} GPU-s"
    assert LedgerEntry.objects.count() == UsageRecord.objects.count(), (
        "a usage record without exactly one debit"
    )
    # Budgets the ledger touched hold exactly its debits (tests may set other budgets' usage by hand).
    for row in LedgerEntry.objects.values("allocation_id", "gpu_type").annotate(total=Sum("gpu_seconds")):
        budget = AllocationBudget.objects.get(allocation_id=row["allocation_id"], gpu_type=row["gpu_type"])
        assert budget.used_gpu_seconds == row["total"], f"budget {budget} used ≠ its ledger debits"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def staff(db):
    return builders.make_user("staff@example.test", staff=True, full_name="Staff Kim")


@pytest.fixture
def reviewer(db):
    return builders.make_user("reviewer@example.test", reviewer=True, full_name="Reviewer Lee")


@pytest.fixture
def reviewer2(db):
    return builders.make_user("reviewer2@example.test", reviewer=True, full_name="Reviewer Park")


@pytest.fixture
def owner(db):
    return builders.make_user("owner@example.test", full_name="Owner Choi")


@pytest.fixture
def teammate(db):
    return builders.make_user("teammate@example.test", full_name="Teammate Jung")


@pytest.fixture
def outsider(db):
    return builders.make_user("outsider@example.test", full_name="Outsider Han")


@pytest.fixture
def organisation(owner, teammate, staff):
    organisation = builders.make_org(owner, name="Owner's SME", staff=staff)
    builders.add_member(organisation, teammate)
    return organisation


@pytest.fixture
def other_organisation(outsider, staff):
    return builders.make_org(outsider, name="Outsider University", org_type="university", staff=staff)


@pytest.fixture
def call(staff):
    return builders.make_call(staff, title="2026 AI compute support")


@pytest.fixture
def session_environment(backend):
    """For sessions: a catalogue environment with JupyterLab, and the scripted backend's GPUs in the
    inventory (so admission sees them)."""
    from portal.environments.models import Environment
    from scheduler.inventory import inventory_sync

    inventory_sync(backend=backend)
    return Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip


@pytest.fixture
def backend(settings):
    """The scripted backend, installed as the configured one."""
    from scheduler import backends

    fake = ScriptedBackend()
    settings.GPUGRANT_BACKEND = fake.name
    backends._instances[fake.name] = fake  # noqa: SLF001
    yield fake
    backends.reset_backends()


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    """An active allocation of the owner's organisation: 2000 A100 and 500 H100 GPU-hours, cap 16 GPUs.

    It allows custom images, so that tests of everything but the catalogue can submit ``image``.
    """
    application = builders.ready_for_decision(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        gpu_requests={"A100": 2000, "H100": 500},
        max_concurrent_gpus=16,
    )
    quota_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return builders.allowing_custom_images(Allocation.objects.get(application=application))


@pytest.fixture
def other_allocation(outsider, other_organisation, call, staff, reviewer):
    application = builders.ready_for_decision(
        outsider, other_organisation, call, staff, reviewer, gpu_requests={"A100": 2000}
    )
    quota_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return builders.allowing_custom_images(Allocation.objects.get(application=application))
