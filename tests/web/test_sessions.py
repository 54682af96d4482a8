"""Sessions in the portal: the list, launching one through the form, a session's page and stopping it —
for its owner (who launched it), another member, a manager and an outsider."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.environments.models import Environment
from quotas.models import Allocation
from scheduler.inventory import inventory_sync
from scheduler.models import InteractiveSession, Job
from scheduler.sessions import session_launch
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


@pytest.fixture
def jupyter(backend):
    """A catalogue environment with JupyterLab, and the scripted backend's GPUs in the inventory."""
    inventory_sync(backend=backend)
    return Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip


@pytest.fixture
def manager(organisation):
    user = builders.make_user("manager@example.test", full_name="Manager Park")
    builders.add_member(organisation, user, "manager")
    return user


@pytest.fixture
def session(teammate, allocation, jupyter):
    """A session the teammate launched: the teammate is its owner."""
    return session_launch(
        user=teammate, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip


def detail(job) -> str:
    return reverse("web:session_detail", kwargs={"public_id": job.public_id})


def running(job, **session_fields):
    Job.objects.filter(pk=job.pk).update(state="running")
    InteractiveSession.objects.filter(job=job).update(socket_path="/tmp/s.sock", **session_fields)


def form_values(allocation, **overrides) -> dict:
    return {
        "allocation": str(allocation.public_id), "environment_name": "jupyterlab-4", "gpu_type": "A100",
        "gpus": "1", "time_limit_minutes": "120", **overrides,
    }  # fmt: skip


def test_it_lists_the_organisations_sessions_with_an_open_link_once_running(
    client, owner, outsider, other_organisation, session
):
    login(client, owner)
    page = client.get(reverse("web:session_list"))
    open_link = f'href="/sessions/{session.public_id}/lab"'
    assert shows(page, detail(session))
    assert open_link not in page.content.decode()
    running(session)
    assert open_link in client.get(reverse("web:session_list")).content.decode()
    login(client, outsider)
    assert not shows(client.get(reverse("web:session_list")), detail(session))
    assert client.get(detail(session)).status_code == 404


def test_a_waiting_session_shows_its_place_in_the_queue(client, owner, session):
    login(client, owner)
    page = client.get(detail(session))
    assert page.status_code == 200
    assert shows(page, "In the queue") and shows(page, "Estimated start")
    html = page.content.decode()
    assert f'href="/sessions/{session.public_id}/lab"' not in html and shows(page, "Stop session")
    # it opens JupyterLab by itself once the session runs (session_wait.js; the browser test watches it)
    assert f'data-open-url="/sessions/{session.public_id}/lab"' in html and "session_wait.js" in html
    assert f'data-status-url="/api/v1/sessions/{session.public_id}"' in html
    running(session)
    assert "session_wait.js" not in client.get(detail(session)).content.decode()


def test_a_running_session_opens_and_says_when_idleness_stops_it(client, teammate, session):
    last = timezone.now() - timedelta(minutes=10)
    running(session, last_activity_at=last)
    login(client, teammate)
    page = client.get(detail(session))
    assert f'href="/sessions/{session.public_id}/lab"' in page.content.decode()
    assert not shows(page, "In the queue")
    assert shows(page, "stopped after 30 idle minutes")
    stop_at = timezone.localtime(last + timedelta(minutes=30))
    assert page.context["idle_stop_at"] == last + timedelta(minutes=30)
    assert shows(page, "Stopped if idle until") and stop_at.strftime("%Y") in page.content.decode()


def test_it_launches_a_session_through_the_form(client, owner, allocation, jupyter):
    login(client, owner)
    page = client.get(reverse("web:session_launch"))
    assert page.status_code == 200
    rules = page.context["rules"]
    assert [(r["gpu_cap"], r["gpus_in_use"], r["idle_minutes"]) for r in rules] == [(1, 0, 30)]
    assert '<option value="jupyterlab-4">' in page.content.decode()
    response = client.post(reverse("web:session_launch"), form_values(allocation))
    job = Job.objects.get(kind="interactive")
    assert response.status_code == 302 and response["Location"] == detail(job)
    assert (job.created_by, job.gpus_per_pod, job.max_runtime_minutes) == (owner, 1, 120)


def test_the_form_shows_the_caps_and_environments_errors_next_to_their_fields(
    client, owner, allocation, jupyter
):
    Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch", image="pytorch/pytorch:2.5", cuda_version="12.4"
    )
    login(client, owner)
    over_cap = client.post(reverse("web:session_launch"), form_values(allocation, gpus="2"))
    assert over_cap.status_code == 200
    assert over_cap.context["form"].errors["gpus"] == [
        "Sessions of this allocation may hold 1 GPUs at once; 0 are in sessions."
    ]
    no_lab = client.post(
        reverse("web:session_launch"), form_values(allocation, environment_name="pytorch-2.5")
    )
    assert "environment_name" in no_lab.context["form"].errors
    assert shows(no_lab, "Nothing was saved.")
    assert not Job.objects.filter(kind="interactive").exists()


def test_a_user_without_an_active_allocation_is_told_so(client, outsider):
    login(client, outsider)
    assert shows(client.get(reverse("web:session_launch")), "you have none")


def test_another_member_may_not_stop_it_but_its_owner_may(client, owner, teammate, session):
    other = builders.make_user()
    builders.add_member(session.organisation, other)
    stop = reverse("web:session_stop", kwargs={"public_id": session.public_id})
    login(client, other)
    page = client.post(stop, follow=True)
    assert shows(page, "Only the session's owner, the organisation's managers or staff stop a session.")
    assert Job.objects.get(pk=session.pk).state == "queued"
    login(client, teammate)
    page = client.post(stop, follow=True)
    assert shows(page, "The session is stopped")
    assert Job.objects.get(pk=session.pk).state == "cancelled"
    assert not shows(page, "Stop session")


def test_a_manager_stops_a_members_running_session(client, manager, session):
    running(session)
    login(client, manager)
    client.post(reverse("web:session_stop", kwargs={"public_id": session.public_id}))
    assert Job.objects.get(pk=session.pk).stop_requested


def test_the_allocation_page_shows_its_session_rules(client, owner, allocation, session):
    Allocation.objects.filter(pk=allocation.pk).update(session_managers_may_enter=True)
    login(client, owner)
    page = client.get(reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id}))
    assert page.context["session_gpus_in_use"] == 1
    assert shows(page, "Most GPUs in sessions at once") and shows(page, "Idle limit (minutes)")
    assert "session_settings_form" not in page.context  # staff only
