"""Backups restore whole, and migrations apply and reverse on a copy of a populated database.

The populated database is this test's own (users, organisations, calls, applications, awards, jobs in
several states, usage and the ledger). deploy/ops/backup.sh dumps it; deploy/ops/restore.sh restores it into
a fresh database named gg_faults_…, which the migration checks then work on and which is dropped at the end.
"""

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests.reliability.conftest import sample
from tests.reliability.stack import REPOSITORY, with_address
from tests.scheduler.helpers import submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# gpugrant's own apps, "accounts" first: every other one depends on it (AUTH_USER_MODEL).
LOCAL_APPS = sorted(
    (
        config.label
        for config in apps.get_app_configs()
        if config.name.startswith(("portal.", "quotas", "scheduler"))
    ),
    key=lambda label: label != "accounts",
)


def url_of(name: str) -> str:
    return with_address(os.environ["DATABASE_URL"], *_address(), path="/" + name)


def _address() -> tuple[str, int]:
    settings = connection.settings_dict
    return settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)


def run(command: list[str], database: str) -> str:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("GPUGRANT_", "DATABASE_"))
    }
    environment.update(DATABASE_URL=url_of(database), PYTHONPATH=str(REPOSITORY))
    done = subprocess.run(
        command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def manage(database: str, *arguments: str) -> str:
    return run([sys.executable, "manage.py", *arguments], database)


def snapshot(database: str) -> dict[str, object]:
    """Row count of every table, and the sums that must never change: usage, debits, budgets."""
    with psycopg.connect(url_of(database)) as db:
        tables = [row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        counts = {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}
        if not {"quotas_usagerecord", "quotas_ledgerentry", "quotas_allocationbudget"} <= set(tables):
            return {"counts": counts, "usage, debits, used, held": None}
        sums = db.execute(
            "SELECT (SELECT coalesce(sum(gpu_seconds), 0) FROM quotas_usagerecord),"
            " (SELECT coalesce(sum(gpu_seconds), 0) FROM quotas_ledgerentry),"
            " (SELECT coalesce(sum(used_gpu_seconds), 0) FROM quotas_allocationbudget),"
            " (SELECT coalesce(sum(held_gpu_seconds), 0) FROM quotas_allocationbudget)"
        ).fetchone()
    return {"counts": counts, "usage, debits, used, held": sums}


@pytest.fixture
def populated(backend, owner, teammate, allocation, other_allocation):
    """Jobs queued, running and finished (charged from their edges), on top of the usual fixtures' data."""
    inventory_sync(backend=backend)
    jobs = [
        submit(owner if n % 2 else teammate, allocation, gpus_per_pod=1 + n % 2, name=f"j{n}")
        for n in range(6)
    ]
    run_cycle(backend=backend)
    Job.objects.filter(state="scheduled").update(run_started_at=timezone.now() - timedelta(minutes=30))
    for job in jobs[:2]:
        backend.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)
    reconcile_jobs(backend=backend)
    return connection.settings_dict["NAME"]


@pytest.fixture
def scratch_database():
    name = f"gg_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url_of("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(url_of("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_it_restores_a_backup_whole_and_migrations_reverse_and_reapply_on_the_copy(
    populated, scratch_database, tmp_path
):
    before = snapshot(populated)
    assert before["usage, debits, used, held"][0] > 0 and before["counts"]["scheduler_job"] == 6
    dump = tmp_path / "gpugrant.dump"
    run(["bash", "deploy/ops/backup.sh", str(dump)], populated)
    run(["bash", "deploy/ops/restore.sh", str(dump)], scratch_database)
    assert snapshot(scratch_database) == before

    # restore.sh refuses a database that is not empty rather than mixing two databases' rows.
    refused = subprocess.run(
        ["bash", "deploy/ops/restore.sh", str(dump)],
        cwd=REPOSITORY,
        env={**os.environ, "DATABASE_URL": url_of(scratch_database)},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "empty" in refused.stderr

    # Each app's latest migration, reversed and applied again on the populated copy: no row lost.
    loader = MigrationLoader(None, ignore_no_migrations=True)
    reversed_apps = []
    latest = []
    for app in LOCAL_APPS:
        leaves = [name for label, name in loader.graph.leaf_nodes() if label == app]
        if not leaves:
            continue  # an app without models
        (leaf,) = leaves
        parents = [name for label, name in loader.graph.node_map[(app, leaf)].parents if label == app]
        # An initial migration is part of creating the app (Django splits those that add foreign keys):
        # reversing it drops columns, so only the round trip through "zero" below applies to it.
        if parents and not loader.graph.nodes[(app, leaf)].initial:
            latest.append((app, leaf, parents))
    for app, leaf, parents in sample(latest, ci=1):
        manage(scratch_database, "migrate", app, parents[0], "--no-input")
        back = snapshot(scratch_database)["counts"]
        dropped = sorted(set(before["counts"]) - set(back))  # tables the migration created go, rows and all
        assert all(back[table] == before["counts"][table] for table in back if table != "django_migrations")
        manage(scratch_database, "migrate", "--no-input")
        after = snapshot(scratch_database)["counts"]
        for table, count in before["counts"].items():
            assert after[table] == (0 if table in dropped else count), f"{app}.{leaf}: {table}"
        reversed_apps.append((f"{app}.{leaf}", dropped))
        if dropped:  # start the next app from the populated state again
            with psycopg.connect(url_of("postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{scratch_database}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{scratch_database}"')
            run(["bash", "deploy/ops/restore.sh", str(dump)], scratch_database)

    # Every app back to zero, then the whole history forward again: every migration reverses.
    for app in LOCAL_APPS:  # accounts first: every other app depends on it and goes with it
        with psycopg.connect(url_of(scratch_database)) as db:
            applied = db.execute("SELECT count(*) FROM django_migrations WHERE app = %s", [app]).fetchone()[0]
        if applied:  # taking an app to zero also unapplies the apps that depend on it
            manage(scratch_database, "migrate", app, "zero", "--no-input")
    with psycopg.connect(url_of(scratch_database)) as db:
        left = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert not [table for table in left if table.split("_")[0] in {*LOCAL_APPS, "portal"}], left
    manage(scratch_database, "migrate", "--no-input")
    assert set(snapshot(scratch_database)["counts"]) == set(before["counts"])
    assert "No changes detected" in manage(scratch_database, "makemigrations", "--check", "--dry-run")
    print(f"migrations reversed and reapplied on populated data (tables emptied): {reversed_apps}")
