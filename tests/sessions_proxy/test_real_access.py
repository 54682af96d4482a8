"""The proxy with the real access rule (scheduler/session_access.py) and a real session row: a session
launched through the service, running, its token the Jupyter server's. Its owner gets in; another member
of its organisation is refused (403) unless the allocation lets managers in and they are one; another
organisation's user, and staff, are told it does not exist (404); until it runs, 503; once ended, 410."""

import httpx
import pytest
from django.conf import settings
from django.test import Client

from portal.providers.credentials import encrypt
from scheduler.models import InteractiveSession, Job
from scheduler.sessions import session_launch

pytestmark = pytest.mark.django_db(transaction=True)


def cookie_of(user) -> dict:
    client = Client()
    client.force_login(user)
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"}


@pytest.fixture
def session_row(jupyter, owner, teammate, organisation, allocation, session_environment):
    """The teammate's session, wired to the real Jupyter server the proxy tests start."""
    public_id, upstream = jupyter
    job = session_launch(
        user=teammate, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(public_id=public_id)
    InteractiveSession.objects.filter(job_id=job.pk).update(token_ciphertext=encrypt(upstream.token))
    return job


def test_the_real_rule_admits_the_owner_only(
    portal_address, session_row, jupyter, teammate, owner, outsider, staff
):
    public_id, upstream = jupyter
    path = f"/sessions/{public_id}/api/status"
    with httpx.Client(base_url=f"http://{portal_address}", timeout=30) as portal:
        assert portal.get(path, headers=cookie_of(teammate)).status_code == 503  # queued: not running yet
        Job.objects.filter(pk=session_row.pk).update(state="running")
        InteractiveSession.objects.filter(job_id=session_row.pk).update(socket_path=upstream.socket_path)
        entered = portal.get(path, headers=cookie_of(teammate))
        assert entered.status_code == 200 and "last_activity" in entered.json()
        assert portal.get(path, headers=cookie_of(owner)).status_code == 403  # the organisation's owner
        assert portal.get(path, headers=cookie_of(outsider)).status_code == 404
        assert portal.get(path, headers=cookie_of(staff)).status_code == 404
        InteractiveSession.objects.filter(job_id=session_row.pk).update(managers_may_enter=True)
        assert portal.get(path, headers=cookie_of(owner)).status_code == 200
        Job.objects.filter(pk=session_row.pk).update(state="cancelled")
        ended = portal.get(path, headers=cookie_of(teammate))  # gone for good: no "starting" loop
        assert ended.status_code == 410 and ended.json()["code"] == "session_ended"
        assert "retry-after" not in ended.headers
