"""Liveness and readiness: which check failed, and nothing secret in the answer."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.ops.models import ServiceStats
from scheduler.cycle import run_cycle

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycled(cluster):
    run_cycle(backend=cluster)


def closed_port() -> int:
    """A port nothing listens on: bound once by us, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_live_answers_while_the_process_runs(client):
    response = client.get("/healthz/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_database_broker_and_scheduler_are_fine(client, cycled):
    response = client.get("/healthz/ready")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "scheduler": True,
    }


def test_not_ready_when_the_last_cycle_is_stale(client, cycled, settings):
    settings.GPUGRANT_READY_MAX_CYCLE_AGE_S = 300
    ServiceStats.objects.update(last_cycle_at=timezone.now() - timedelta(seconds=301))
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["scheduler"]["ok"] and "limit 300 s" in checks["scheduler"]["detail"]
    assert checks["database"]["ok"] and checks["broker"]["ok"]

    settings.GPUGRANT_READY_MAX_CYCLE_AGE_S = 0  # an operator who keeps the scheduler out of readiness
    assert client.get("/healthz/ready").status_code == 200


def test_not_ready_before_any_cycle(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"]["detail"] == "no scheduling cycle has finished yet"


def test_not_ready_when_the_broker_is_unreachable_and_no_secret_shows(client, cycled, settings):
    settings.CELERY_BROKER_URL = f"amqp://gpugrant:s3cret-broker-pass@127.0.0.1:{closed_port()}//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["broker"]["ok"] and checks["broker"]["detail"].startswith("unreachable")
    assert checks["database"]["ok"] and checks["scheduler"]["ok"]
    assert b"s3cret" not in response.content and b"gpugrant:" not in response.content


def test_probes_need_no_login_and_skip_host_checks_and_https_redirects(client, cycled, settings):
    """A kubelet calls the pod's IP over plain HTTP; the portal's own pages still refuse that host."""
    settings.ALLOWED_HOSTS = ["gpugrant.example.kr"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz/live", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/healthz/ready", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400
