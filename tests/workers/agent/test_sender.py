"""Draining the spool to a portal that goes down, loses answers, rejects and dedups: each record once."""

import pytest

from tests.workers.agent.fake_portal import FakePortal
from tests.workers.agent.rig import REPORT, START, Rig, ScriptedSource, readings
from workers.agent_sender import Sender, SendOutcome
from workers.assignments import Binding
from workers.portal_client import Backoff, PortalClient
from workers.records import UsageRecord
from workers.spool import Spool

JOB = "5f0c2e9a-1b3d-4c5e-8f70-112233445566"
BAD = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"


@pytest.fixture
def portal():
    with FakePortal() as fake:
        yield fake


def record(sequence: int, job: str = JOB) -> UsageRecord:
    return UsageRecord(job, "GPU-0", 0, sequence, 100.0 + sequence, 101.0 + sequence, 1, 1000, 50.0, 0)


def test_an_outage_then_recovery_delivers_every_record_exactly_once(tmp_path, portal):
    source = ScriptedSource(
        [Binding(JOB, "GPU-0", 0, START, None), Binding(JOB, "GPU-1", 1, START + 3, None)]
    )
    rig = Rig(tmp_path, {"GPU-0": readings("GPU-0"), "GPU-1": readings("GPU-1")}, source, portal=portal)
    rig.run(START, START + 20)
    assert len(portal.records) == 4 and rig.spool.backlog().count == 0

    portal.down = True
    rig.run(START + 22, START + 120)  # ten reports while the portal is down
    assert rig.spool.backlog().count == 20
    assert len(portal.records) == 4
    assert rig.sender.backoff.failures >= 3  # it backed off instead of trying every tick

    portal.down = False
    portal.lose_answers = 1  # the first post after the outage is applied but its answer is lost
    rig.run(START + 122, START + 200)
    assert rig.spool.backlog().count == 0
    produced = [r.id for r in rig.records]
    assert len(produced) == len(set(produced)) == 40
    assert set(portal.records) == set(produced)  # nothing lost, nothing extra
    assert len(portal.deliveries) > len(produced)  # the lost answer made it send some twice …
    assert sum(r["gpu_seconds"] for r in portal.records.values()) == sum(
        r.gpu_seconds for r in rig.records
    )  # … counted once
    assert max(portal.batch_sizes) <= 500


def test_it_sends_in_batches_of_at_most_500_oldest_first(tmp_path, portal):
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(1200)])
    sender = Sender(spool, PortalClient(portal.url, portal.key, retries=0))
    assert sender.drain(now=0.0) == SendOutcome.IDLE
    assert portal.batch_sizes == [500, 500, 200]
    assert portal.deliveries == [record(n).id for n in range(1200)]
    assert spool.backlog().count == 0


def test_rejected_records_are_dropped_and_the_rest_accepted(tmp_path, portal, caplog):
    portal.reject(lambda wire: wire["job_id"] == BAD, "the job was not placed on this node")
    spool = Spool(tmp_path)
    spool.append([record(0), record(0, job=BAD), record(1)])
    sender = Sender(spool, PortalClient(portal.url, portal.key, retries=0))
    assert sender.step(now=0.0) == SendOutcome.SENT
    assert spool.backlog().count == 0
    assert sorted(portal.records) == [record(0).id, record(1).id]
    assert sender.rejected == 1
    assert f"{BAD}:GPU-0:0:0" in caplog.text and "not placed on this node" in caplog.text


def test_malformed_records_are_set_aside_and_do_not_block_the_spool(tmp_path, portal):
    portal.malformed(lambda wire: wire["sequence"] in (1, 3))
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(5)])
    sender = Sender(spool, PortalClient(portal.url, portal.key, retries=0))
    assert sender.drain(now=0.0) == SendOutcome.IDLE
    assert sorted(portal.records) == [record(n).id for n in (0, 2, 4)]
    assert [record_id for record_id, _reason in spool.buried()] == [record(1).id, record(3).id]
    assert "gpu_seconds" in spool.buried()[0][1]


def test_a_refused_key_keeps_the_records_and_backs_off(tmp_path, portal):
    spool = Spool(tmp_path)
    spool.append([record(0)])
    backoff = Backoff(base=10.0, cap=REPORT * 100, random=lambda: 0.0)
    sender = Sender(spool, PortalClient(portal.url, "ggnode_wrong", retries=0), backoff=backoff)
    assert sender.step(now=0.0) == SendOutcome.FAILED
    assert sender.step(now=4.9) == SendOutcome.WAITING  # 10 × 2⁰ / 2 = 5 s
    assert sender.step(now=5.0) == SendOutcome.FAILED
    assert sender.step(now=14.9) == SendOutcome.WAITING  # then 10 s
    assert spool.backlog().count == 1 and portal.posts == 0
    sender.client.node_key = portal.key  # the operator fixed the key
    assert sender.step(now=15.0) == SendOutcome.SENT
    assert spool.backlog().count == 0
