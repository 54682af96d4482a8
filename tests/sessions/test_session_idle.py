"""Idle sessions are warned, then stopped, and their GPUs freed within one cycle of the limit
(scheduler/session_idle.py). JupyterLab's own report of its last activity is the input: here given by
the test (``activity``), as the session's server would answer ``/api/status``."""

import os
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.notifications.models import Notification
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.models import Gpu, InteractiveSession, Job, JobEvent
from scheduler.reconcile import reconcile_jobs
from scheduler.session_idle import last_activity, sessions_check_idle
from scheduler.sessions import session_launch
from tests.scheduler.backends.test_local import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def running_session(owner, allocation, backend, session_environment):
    job = session_launch(
        user=owner, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=240,
    )  # fmt: skip
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    InteractiveSession.objects.filter(job=job).update(socket_path="/tmp/gpugrant-sessions/x/jupyter.sock")
    job.refresh_from_db()
    assert job.state == "running"
    return job


def active_at(moment):
    return lambda endpoint, base_path, token: moment


def test_a_session_in_use_is_left_alone_and_its_activity_kept(running_session):
    now = timezone.now()
    assert sessions_check_idle(now=now, activity=active_at(now - timedelta(minutes=3)))["active"] == 1
    assert InteractiveSession.objects.get(job=running_session).last_activity_at == now - timedelta(minutes=3)
    assert not Job.objects.get(pk=running_session.pk).stop_requested


def test_an_idle_session_is_warned_once_then_stopped_and_its_gpus_freed(
    running_session, backend, django_capture_on_commit_callbacks
):
    now = timezone.now()
    last_used = now - timedelta(minutes=26)  # the limit is 30: within the last 5 minutes of it
    assert sessions_check_idle(now=now, activity=active_at(last_used))["warned"] == 1
    assert sessions_check_idle(now=now + timedelta(minutes=1), activity=active_at(last_used))["warned"] == 0
    warning = Notification.objects.get(recipient=running_session.created_by, subject__contains="stopped soon")
    assert "idle for 26 minutes" in warning.body and "notebooks are kept" in warning.body
    assert JobEvent.objects.filter(job=running_session, reason_code="session_idle_warning").count() == 1
    # the limit reached: stopped, and the GPU free again once the backend reports it stopped
    with django_capture_on_commit_callbacks(execute=True):  # the stop goes to the backend after commit
        done = sessions_check_idle(now=now + timedelta(minutes=4), activity=active_at(last_used))
    assert done["stopped"] == 1
    assert (str(running_session.public_id), "session_idle") in backend.stopped
    reconcile_jobs(backend=backend)
    job = Job.objects.get(pk=running_session.pk)
    assert job.state == "cancelled" and job.state_reason_code == "session_idle_stopped"
    assert not Gpu.objects.filter(job=job).exists()


def test_a_session_used_again_after_a_warning_is_warned_afresh_later(running_session):
    now = timezone.now()
    sessions_check_idle(now=now, activity=active_at(now - timedelta(minutes=27)))
    sessions_check_idle(now=now + timedelta(minutes=2), activity=active_at(now + timedelta(minutes=1)))
    assert not Job.objects.get(pk=running_session.pk).stop_requested
    later = now + timedelta(minutes=27)
    assert sessions_check_idle(now=later, activity=active_at(now + timedelta(minutes=1)))["warned"] == 1


def test_a_session_that_does_not_answer_is_judged_by_what_was_last_seen(running_session):
    now = timezone.now()
    sessions_check_idle(now=now, activity=active_at(now - timedelta(minutes=10)))
    silent = lambda endpoint, base_path, token: None  # noqa: E731
    assert sessions_check_idle(now=now + timedelta(minutes=25), activity=silent)["stopped"] == 1


def test_a_real_jupyter_server_reports_its_last_activity_over_its_socket(tmp_path):
    """Jupyter Server itself (not a stand-in) on a UNIX socket, asked as the idle check asks it."""
    pytest.importorskip("jupyter_server")
    folder = f"/tmp/gpugrant-test-{uuid.uuid4().hex[:8]}"  # short: a socket's path stays under 108 bytes
    sock, base = f"{folder}/jupyter.sock", f"/sessions/{uuid.uuid4()}/"
    os.makedirs(folder, mode=0o700)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.sock={sock}", f"--ServerApp.base_url={base}",
         "--IdentityProvider.token=t0ken", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={tmp_path}",
         "--ServerApp.allow_root=True"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        seen = wait_for(lambda: last_activity(sock, base, "t0ken"), "Jupyter Server to answer", timeout=60)
        assert seen is not None and abs((timezone.now() - seen).total_seconds()) < 120
        assert last_activity(sock, base, "not-the-token") is None  # the token is the second lock
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
