"""The project's promises to newcomers and operators: the README commands, CI, settings, demo data."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client

from portal.accounts.models import User
from portal.applications.models import Application
from portal.organisations.models import Organisation
from quotas.models import Allocation
from scheduler.models import Job

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    lines = ROOT.joinpath("README.md").read_text().splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    return [line for line in lines[fences[0] + 1 : fences[1]] if line.strip()]


def test_it_starts_the_readme_with_exactly_two_commands():
    demo, tests = readme_commands()
    assert "manage.py demo" in demo
    assert "pytest" in tests


def test_it_runs_the_readme_test_command_in_ci():
    ci = ROOT.joinpath(".ci/run").read_text()
    assert "sed -n 2p" in ci and "eval" in ci  # the README's second command, verbatim
    # The services are installed and started first, the control plane built, and both then required.
    assert 'eval "$(.ci/services)"' in ci and "tests/cluster/build" in ci
    assert "GPUGRANT_REQUIRE_SERVICES=1" in ci and "GPUGRANT_REQUIRE_CLUSTER=1" in ci
    services = ROOT.joinpath(".ci/services").read_text()
    for package in ("postgresql", "rabbitmq-server", "redis-server"):
        assert package in services  # installed from Debian's packages where missing
    for check in (
        "pg_isready",
        "redis-cli",
        "tcp_open 127.0.0.1 5672",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "REDIS_URL",
    ):
        assert check in services  # each waited for until it answers, then pointed at


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_it_passes_the_deploy_check_in_production_mode():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        GPUGRANT_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        GPUGRANT_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="gpugrant.example.kr",
        DEBUG="",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = _manage("check", GPUGRANT_ENV="production", SECRET_KEY="", ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


@pytest.mark.parametrize(
    "keys, message",
    [
        ("", "GPUGRANT_CREDENTIALS_KEYS must be set in production"),
        ("not-a-fernet-key", "each key must be 32 url-safe base64-encoded bytes"),
    ],
)
def test_it_refuses_to_start_in_production_without_a_credentials_key(keys, message):
    result = _manage(
        "check",
        GPUGRANT_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        GPUGRANT_CREDENTIALS_KEYS=keys,
        ALLOWED_HOSTS="x",
    )
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_it_seeds_demo_data_idempotently_with_working_logins(settings):
    from portal.providers.models import Cluster, Contract
    from portal.web.management.commands.seed_demo import DEMO_LOCAL_CLUSTERS
    from scheduler.models import GpuNode

    settings.GPUGRANT_BACKEND = "local"
    settings.GPUGRANT_LOCAL_CLUSTERS = DEMO_LOCAL_CLUSTERS  # as `manage.py demo` sets it
    call_command("seed_demo", verbosity=0)
    counts = (
        User.objects.count(),
        Organisation.objects.count(),
        Application.objects.count(),
        Allocation.objects.count(),
    )
    call_command("seed_demo", verbosity=0)
    assert (
        User.objects.count(),
        Organisation.objects.count(),
        Application.objects.count(),
        Allocation.objects.count(),
    ) == counts

    # a finished round to look at: 60 ranked applications, approved, half of its agreements accepted
    from quotas.models import Agreement, AllocationRound

    finished = AllocationRound.objects.get(call__title__startswith="Allocation round demo ")
    assert finished.state == "approved" and finished.lines.count() == 60
    assert {line.outcome for line in finished.lines.all()} == {"awarded", "waitlisted"}
    agreements = Agreement.objects.filter(allocation__call=finished.call)
    assert agreements.filter(state="accepted").count() == (agreements.count() + 1) // 2 > 0

    # two providers, each with its cluster of the machine's simulated GPUs and a contract
    assert sorted(Cluster.objects.values_list("provider__name", "name", "region")) == [
        ("Hanbit Cloud", "hanbit-seoul-1", "capital"),
        ("Namdo GPU", "namdo-gwangju-1", "non_capital"),
    ]
    assert sorted(Contract.objects.values_list("gpu_type", "kind")) == [
        ("A100", "reserved"),
        ("H100", "on_demand"),
    ]
    assert dict(GpuNode.objects.values_list("name", "cluster__name")) == {
        "local-a100": "hanbit-seoul-1",
        "local-h100": "namdo-gwangju-1",
    }

    states = set(Application.objects.values_list("state", flat=True))
    assert states >= {"draft", "submitted", "under_review", "revision_requested", "rejected", "approved"}
    assert set(Organisation.objects.values_list("org_type", flat=True)) == {
        "sme",
        "startup",
        "university",
        "public_institution",
        "research_institute",
    }
    alice_allocation = Allocation.objects.get(organisation__memberships__user__email="alice@demo.test")
    assert [b.gpu_type for b in alice_allocation.budgets.all()] == [
        "A100"
    ] and alice_allocation.status == "active"
    carol_allocation = Allocation.objects.get(organisation__memberships__user__email="carol@demo.test")
    assert [b.gpu_type for b in carol_allocation.budgets.all()] == ["H100"]
    assert (
        User.objects.get(email="bob@demo.test").memberships.get().organisation
        == alice_allocation.organisation
    )
    assert User.objects.get(email="staff@demo.test").is_staff
    assert (
        User.objects.filter(email__in=["reviewer@demo.test", "reviewer2@demo.test"], is_reviewer=True).count()
        == 2
    )

    # carol's jobs are alike (one submitter, four H100s each), so once two have finished the rest are
    # predicted from them: the demo shows predictions and start ranges for real jobs.
    carol_jobs = Job.objects.filter(allocation=carol_allocation)
    assert carol_jobs.count() == 4
    assert {(job.created_by.email, job.gpus_per_pod * job.pods) for job in carol_jobs} == {
        ("carol@demo.test", 4)
    }

    for email in (
        "staff@demo.test",
        "reviewer@demo.test",
        "alice@demo.test",
        "bob@demo.test",
        "carol@demo.test",
    ):
        assert Client().login(username=email, password="demo"), email


@pytest.mark.django_db
def test_it_uses_demo_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-secret")
    call_command("seed_demo", verbosity=0)
    assert Client().login(username="alice@demo.test", password="another-demo-secret")
    assert not Client().login(username="alice@demo.test", password="demo")
