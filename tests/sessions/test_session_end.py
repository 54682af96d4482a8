"""A session that ends by itself (JupyterLab exits, or its time runs out) has its run stopped once the end
is stored, so the backend removes what it held beside its finished pod (on Kubernetes: the token's
Secret and the Service; docs/sessions.md); a batch job's finished pods are left as they were."""

import pytest

from portal.environments.models import Environment
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.reconcile import reconcile_jobs
from scheduler.sessions import session_launch
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def jupyter(backend):
    inventory_sync(backend=backend)
    return Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip


def _run_then(backend, job, phase, capture) -> None:
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    backend.set_phase(str(job.public_id), phase, exit_code=0 if phase == Phase.SUCCEEDED else None)
    with capture(execute=True):
        reconcile_jobs(backend=backend)
    job.refresh_from_db()


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT])
def test_a_session_that_ended_by_itself_is_stopped_after_its_end_is_stored(
    backend, owner, allocation, jupyter, phase, django_capture_on_commit_callbacks
):
    job = session_launch(
        user=owner, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip

    _run_then(backend, job, phase, django_capture_on_commit_callbacks)

    assert job.state == phase.value
    assert backend.stopped == [(str(job.public_id), "session ended")]


def test_a_batch_job_that_ended_is_not_stopped(
    backend, owner, allocation, django_capture_on_commit_callbacks
):
    inventory_sync(backend=backend)
    job = submit(owner, allocation)

    _run_then(backend, job, Phase.SUCCEEDED, django_capture_on_commit_callbacks)

    assert job.state == "succeeded" and backend.stopped == []
