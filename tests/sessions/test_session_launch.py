"""Launching, entering and stopping interactive sessions (scheduler/sessions.py, session_access.py):
a session is a job of kind interactive, within its allocation's session cap; its token is kept
encrypted and never shown; only its owner (and, where allowed, the organisation's managers) enter."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.environments.models import Environment
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.providers.credentials import decrypt
from quotas.models import Allocation
from scheduler.inventory import inventory_sync
from scheduler.models import InteractiveSession, Job
from scheduler.session_access import session_upstream
from scheduler.sessions import session_launch, session_stop
from scheduler.states import JobState
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def jupyter(db, backend):
    """A catalogue environment with JupyterLab, and the scripted backend's GPUs in the inventory."""
    inventory_sync(backend=backend)
    return Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip


def launch(user, allocation, **overrides):
    values = {"environment_name": "jupyterlab-4", "gpu_type": "A100", "gpus": 1, "time_limit_minutes": 120}
    return session_launch(user=user, allocation=allocation, **{**values, **overrides})


def running(job, socket="/tmp/s.sock"):
    Job.objects.filter(pk=job.pk).update(state="running")
    InteractiveSession.objects.filter(job=job).update(socket_path=socket)


def test_a_session_is_an_interactive_job_with_its_token_kept_apart(owner, allocation, jupyter):
    job = launch(owner, allocation)
    assert (job.kind, job.state, job.gpus_per_pod, job.max_runtime_minutes) == (
        "interactive",
        "queued",
        1,
        120,
    )
    assert f"--ServerApp.base_url=/sessions/{job.public_id}/" in job.command
    session = InteractiveSession.objects.get(job=job)
    token = decrypt(session.token_ciphertext)
    assert len(token) >= 40 and token not in session.token_ciphertext
    assert token not in str(job.command) and token not in str(job.environment)
    assert (session.idle_limit_minutes, session.managers_may_enter) == (30, False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=owner)[1]}")
    for path in ("/api/v1/sessions", f"/api/v1/sessions/{job.public_id}", f"/api/v1/jobs/{job.public_id}"):
        assert token not in client.get(path).content.decode(), path


def test_the_allocation_caps_the_gpus_in_sessions(owner, allocation, jupyter):
    Allocation.objects.filter(pk=allocation.pk).update(session_gpu_cap=2)
    first = launch(owner, allocation, gpus=2)
    with pytest.raises(InvalidInput) as error:
        launch(owner, allocation)
    assert error.value.fields["gpus"] == [
        "Sessions of this allocation may hold 2 GPUs at once; 2 are in sessions."
    ]
    session_stop(job=first, user=owner)  # a queued session ends at once; its GPUs count no more
    assert launch(owner, allocation, gpus=2).gpus_per_pod == 2


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"environment_name": "nope"}, "environment_name"),
        ({"gpus": 0}, "gpus"),
        ({"time_limit_minutes": 0}, "time_limit_minutes"),
        ({"time_limit_minutes": 24 * 60 + 1}, "time_limit_minutes"),
    ],
)
def test_bad_launches_get_field_errors_and_write_nothing(owner, allocation, jupyter, overrides, field):
    with pytest.raises(InvalidInput) as error:
        launch(owner, allocation, **overrides)
    assert field in error.value.fields
    assert not Job.objects.filter(kind="interactive").exists()


def test_an_environment_without_jupyterlab_is_not_offered_for_sessions(owner, allocation, jupyter):
    Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch", image="pytorch/pytorch:2.5", cuda_version="12.4"
    )
    with pytest.raises(InvalidInput) as error:
        launch(owner, allocation, environment_name="pytorch-2.5")
    assert "environment_name" in error.value.fields


def test_jobs_cannot_be_submitted_as_sessions(owner, allocation):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=owner)[1]}")
    body = {
        "allocation": str(allocation.public_id), "name": "x", "kind": "interactive", "image": "python:3.11",
        "command": ["python"], "gpu_type": "A100", "gpus_per_pod": 1, "max_runtime_minutes": 10,
    }  # fmt: skip
    response = client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400 and "kind" in response.json()["extra"]["fields"]


def test_only_the_owner_enters_unless_the_allocation_lets_managers(
    owner, teammate, outsider, organisation, allocation, jupyter, staff
):
    manager = builders.make_user()
    builders.add_member(organisation, manager, "manager")
    job = launch(teammate, allocation)  # a member launched it: the member is its owner
    with pytest.raises(Conflict) as error:
        session_upstream(teammate, job.public_id)
    assert error.value.code == "session_not_ready"
    running(job)
    upstream = session_upstream(teammate, job.public_id)
    assert (upstream.socket_path, upstream.base_path) == ("/tmp/s.sock", f"/sessions/{job.public_id}/")
    assert upstream.token == decrypt(InteractiveSession.objects.get(job=job).token_ciphertext)
    for user in (manager, owner):
        with pytest.raises(PermissionDenied):
            session_upstream(user, job.public_id)
    for user in (outsider, staff):  # another organisation, and staff (no member): cannot see it
        with pytest.raises(Http404):
            session_upstream(user, job.public_id)
    InteractiveSession.objects.filter(job=job).update(managers_may_enter=True)
    assert session_upstream(manager, job.public_id).token == upstream.token
    with pytest.raises(NotAllowed):
        session_stop(job=job, user=builders.add_member(organisation, builders.make_user()).user)
    session_stop(job=job, user=manager)
    assert Job.objects.get(pk=job.pk).stop_requested
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    with pytest.raises(Conflict) as ended:  # gone for good, not "starting" (the proxy answers 410)
        session_upstream(teammate, job.public_id)
    assert ended.value.code == "session_ended"
