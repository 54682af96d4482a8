"""Staff pages warn when the scheduler or a node agent has gone quiet, and only then."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.ops.models import AgentReport, ServiceStats
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db

SCHEDULER_QUIET = "The scheduler has gone quiet."
AGENTS_QUIET = "Node agents have gone quiet."


def page(client, user, name="web:staff_home") -> str:
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def running(cluster, owner, allocation, settings):
    """A job running on node-a for an hour, metered by agents."""
    settings.GPUGRANT_METERING = "agent"
    job = submit(owner, allocation, minutes=600)
    run_cycle(backend=cluster)
    cluster.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=cluster)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    run_cycle(backend=cluster)
    return job


def test_no_banner_while_cycles_run_and_agents_report(client, staff, running):
    AgentReport.objects.create(node="node-a", reported_at=timezone.now())
    html = page(client, staff)
    assert SCHEDULER_QUIET not in html and AGENTS_QUIET not in html and "ops-warnings" not in html


def test_a_stale_scheduler_is_announced_on_staff_pages(client, staff, owner, cluster, settings):
    run_cycle(backend=cluster)
    settings.GPUGRANT_SCHEDULER_QUIET_AFTER_S = 120
    ServiceStats.objects.update(last_cycle_at=timezone.now() - timedelta(minutes=10))
    for name in ("web:staff_home", "web:staff_organisation_list", "web:job_list"):
        html = page(client, staff, name)
        assert SCHEDULER_QUIET in html and "Its last successful scheduling cycle ended 10" in html
    assert SCHEDULER_QUIET not in page(client, owner, "web:job_list")  # users are not told


def test_a_scheduler_that_never_ran_is_announced(client, staff):
    html = page(client, staff)
    assert SCHEDULER_QUIET in html and "No scheduling cycle has finished yet." in html


def test_a_silent_agent_on_a_node_with_running_jobs_is_announced(client, staff, running, settings):
    settings.GPUGRANT_AGENT_QUIET_AFTER_S = 120
    html = page(client, staff)
    assert AGENTS_QUIET in html and "node-a" in html and "no report yet" in html
    assert SCHEDULER_QUIET not in html

    AgentReport.objects.create(node="node-a", reported_at=timezone.now() - timedelta(minutes=5))
    html = page(client, staff)
    assert AGENTS_QUIET in html and "last report 5" in html

    AgentReport.objects.update(reported_at=timezone.now())
    assert AGENTS_QUIET not in page(client, staff)


def test_agents_are_not_expected_without_agent_metering_or_jobs(client, staff, running, settings):
    settings.GPUGRANT_METERING = "edges"
    assert AGENTS_QUIET not in page(client, staff)
    settings.GPUGRANT_METERING = "agent"
    Job.objects.filter(pk=running.pk).update(started_at=timezone.now())  # just started: no report due yet
    assert AGENTS_QUIET not in page(client, staff)
