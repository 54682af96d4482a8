"""The node agent tells the portal how much it still has spooled, in a header old portals ignore."""

import io
import json

from workers.agent_sender import Sender, SendOutcome
from workers.portal_client import SPOOL_BACKLOG_HEADER, PortalClient
from workers.records import UsageRecord
from workers.spool import Spool

JOB = "5f0c2e9a-1b3d-4c5e-8f70-112233445566"


class RecordingOpener:
    """Answers every usage POST with "all accepted" and keeps the requests it was given."""

    def __init__(self):
        self.requests = []

    def open(self, request, timeout):
        self.requests.append(request)
        count = len(json.loads(request.data)["records"])
        return _Answer(json.dumps({"accepted": count, "duplicates": 0, "rejected": []}).encode())


class _Answer(io.BytesIO):
    def __enter__(self):
        return self


def record(sequence: int) -> UsageRecord:
    return UsageRecord(JOB, "GPU-0", 0, sequence, 100.0 + sequence, 101.0 + sequence, 1, 1000, 50.0, 0)


def test_each_batch_says_how_many_records_wait_behind_it(tmp_path):
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(1200)])
    opener = RecordingOpener()
    sender = Sender(spool, PortalClient("http://portal.test", "ggnode_x_y", retries=0, opener=opener))
    assert sender.drain(now=0.0) == SendOutcome.IDLE
    assert [r.get_header(SPOOL_BACKLOG_HEADER.capitalize()) for r in opener.requests] == ["700", "200", "0"]


def test_a_plain_client_call_sends_no_backlog_header():
    opener = RecordingOpener()
    PortalClient("http://portal.test", "ggnode_x_y", retries=0, opener=opener).post_usage(
        [record(0).to_wire()]
    )
    assert not opener.requests[0].has_header(SPOOL_BACKLOG_HEADER.capitalize())
