"""The portal client against a real HTTP server: node-key auth, answers sorted by what to do, backoff."""

import socket

import pytest

from tests.workers.agent.fake_portal import FakePortal
from workers.portal_client import (
    Backoff,
    PortalAuthError,
    PortalClient,
    PortalRejected,
    PortalUnavailable,
)


def wire(sequence: int) -> dict:
    return {
        "id": f"job:GPU-0:0:{sequence}",
        "job_id": "job",
        "gpu_uuid": "GPU-0",
        "epoch": 0,
        "sequence": sequence,
    }


@pytest.fixture
def portal():
    with FakePortal() as fake:
        yield fake


def test_it_posts_usage_with_the_node_key_and_reads_the_answer(portal):
    portal.reject(lambda record: record["sequence"] == 1, "no such job")
    client = PortalClient(portal.url + "/", portal.key)
    first = client.post_usage([wire(0), wire(1)])
    assert (first.accepted, first.duplicates) == (1, 0)
    assert [(item.id, item.reason) for item in first.rejected] == [("job:GPU-0:0:1", "no such job")]
    again = client.post_usage([wire(0)])
    assert (again.accepted, again.duplicates, again.rejected) == (0, 1, [])


def test_it_reads_the_node_jobs(portal):
    portal.jobs = [{"id": "5f0c…", "state": "running", "pods": []}]
    assert PortalClient(portal.url, portal.key).node_jobs() == portal.jobs


def test_a_wrong_key_is_an_auth_error_and_is_not_retried(portal):
    sleeps = []
    client = PortalClient(portal.url, "ggnode_wrong", sleep=sleeps.append, retries=3)
    with pytest.raises(PortalAuthError) as raised:
        client.post_usage([wire(0)])
    assert raised.value.status == 401
    assert sleeps == []


def test_a_malformed_envelope_is_rejected_with_the_portal_s_fields(portal):
    client = PortalClient(portal.url, portal.key, retries=3, sleep=lambda seconds: None)
    with pytest.raises(PortalRejected) as raised:
        client._call("POST", "/api/v1/usage", {"records": []}, retries=None)
    assert raised.value.status == 400
    assert raised.value.body["extra"]["fields"] == {"records": ["Give 1 to 1000 records."]}
    with pytest.raises(ValueError):
        client.post_usage([])


def test_an_outage_is_retried_with_growing_jittered_delays_then_given_up(portal):
    portal.down = True
    sleeps = []
    client = PortalClient(
        portal.url,
        portal.key,
        retries=4,
        backoff=Backoff(base=1.0, cap=5.0, random=lambda: 0.5),
        sleep=sleeps.append,
    )
    with pytest.raises(PortalUnavailable) as raised:
        client.post_usage([wire(0)])
    assert raised.value.status == 503
    # Equal jitter with random() = 0.5: three quarters of base × 2ⁿ, capped at 5.
    assert sleeps == [0.75, 1.5, 3.0, 3.75]
    assert portal.records == {}


def test_it_succeeds_once_the_portal_is_back_within_its_retries(portal):
    portal.down = True
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            portal.down = False

    client = PortalClient(portal.url, portal.key, retries=5, backoff=Backoff(random=lambda: 0.0), sleep=sleep)
    assert client.post_usage([wire(0)]).accepted == 1
    assert len(sleeps) == 2
    assert client.backoff.failures == 0  # a success resets the backoff


def test_backoff_jitter_stays_within_half_to_whole_step_and_caps():
    low = Backoff(base=2.0, cap=10.0, random=lambda: 0.0)
    high = Backoff(base=2.0, cap=10.0, random=lambda: 0.999999)
    assert [round(low.failure(), 3) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert [round(high.failure(), 3) for _ in range(5)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_connection_refused_and_timeouts_are_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(PortalUnavailable):
        PortalClient(f"http://127.0.0.1:{closed_port}", "k", retries=0).node_jobs()

    # A server that accepts and never answers: the client's timeout ends the wait.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        client = PortalClient(f"http://127.0.0.1:{silent.getsockname()[1]}", "k", retries=0, timeout=0.3)
        with pytest.raises(PortalUnavailable):
            client.node_jobs()
    finally:
        silent.close()
