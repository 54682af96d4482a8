"""GPUs held back for sessions (GPUGRANT_SESSION_RESERVE_GPUS), through the real cycle: a batch job that
would leave fewer free waits, with the reason said; a session takes them."""

import pytest

from scheduler.cycle import run_cycle
from scheduler.models import Job
from scheduler.selectors import job_queue_facts
from scheduler.sessions import session_launch
from tests import builders

pytestmark = pytest.mark.django_db


def test_a_batch_job_leaves_the_reserve_and_a_session_takes_it(
    settings, owner, allocation, backend, session_environment
):
    settings.GPUGRANT_SESSION_RESERVE_GPUS = {"A100": 8}  # the scripted backend's one A100 node: all of it
    batch = builders.queued_job(owner, allocation, "batch")
    session = session_launch(
        user=owner, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip
    run_cycle(backend=backend)
    assert Job.objects.get(pk=session.pk).state == "scheduled"
    batch = Job.objects.get(pk=batch.pk)
    assert batch.state == "queued"
    assert (
        job_queue_facts(batch)["wait_reason"]
        == "The free A100 GPUs left are held back for interactive sessions."
    )
