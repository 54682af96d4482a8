"""Shedding submissions in front of Django (portal/api/shedding.py), as gunicorn runs the portal."""

import io
import json
import threading

import pytest

from portal.api import throttling
from portal.api.shedding import SLOT_TAKEN, ShedSubmissions
from scheduler.inventory import inventory_sync
from tests.api.test_jobs_api import body


def environ(method="POST", path="/api/v1/jobs"):
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b"")}


class Inner:
    """Stands in for Django: records the calls that reached it and what it saw of the slot."""

    def __init__(self):
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append((env["PATH_INFO"], env.get(SLOT_TAKEN), throttling._slots["in_flight"]))
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]


def call(app, env):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    result = app(env, start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return seen["status"], seen["headers"], body


@pytest.fixture
def cap_one(settings):
    settings.GPUGRANT_SUBMIT_CONCURRENCY = 1
    settings.GPUGRANT_OVERLOAD_RETRY_AFTER_S = 3
    assert throttling._slots["in_flight"] == 0


def test_a_full_process_refuses_before_django_in_the_envelope(cap_one):
    inner = Inner()
    with throttling.submission_slot():  # another submission of this process holds the only slot
        status, headers, body = call(ShedSubmissions(inner), environ())
    assert status.startswith("503") and headers["Retry-After"] == "3"
    assert json.loads(body) == {
        "message": throttling.Overloaded.default_detail,
        "code": "overloaded",
        "extra": {"fields": {}},
    }
    assert inner.calls == []  # Django never saw it
    assert throttling._slots["in_flight"] == 0


def test_an_admitted_submission_holds_one_slot_until_its_response_is_closed(cap_one):
    inner = Inner()
    app = ShedSubmissions(inner)
    status, _, _ = call(app, environ(path="/api/v1/jobs/"))
    assert status.startswith("201")
    # the view saw the slot taken for it (so it takes no second one), and it was freed on close
    assert inner.calls == [("/api/v1/jobs/", True, 1)] and throttling._slots["in_flight"] == 0
    assert call(app, environ())[0].startswith("201")  # so the next one is admitted


def test_other_requests_and_an_unset_cap_pass_straight_through(cap_one, settings):
    inner = Inner()
    app = ShedSubmissions(inner)
    with throttling.submission_slot():
        assert call(app, environ(method="GET"))[0].startswith("201")
        assert call(app, environ(path="/api/v1/jobs/x/cancel"))[0].startswith("201")
    settings.GPUGRANT_SUBMIT_CONCURRENCY = 0
    assert call(app, environ())[0].startswith("201")
    assert [c[1] for c in inner.calls] == [None, None, None]


def test_a_failing_app_still_frees_the_slot(cap_one):
    def broken(env, start_response):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        ShedSubmissions(broken)(environ(), lambda *a: None)
    assert throttling._slots["in_flight"] == 0


def _waiting(count: int):
    """True once ``count`` submissions wait for a slot (read under the slots' lock)."""
    with throttling._slots_lock:
        return throttling._slots["waiting"] == count


def _wait_until(condition) -> None:
    event = threading.Event()
    while not condition():
        event.wait(0.001)  # polls a real condition (the waiter count), bounded by the test's timeout


def test_a_submission_waits_in_the_queue_for_the_slot_a_finishing_one_frees(cap_one, settings):
    settings.GPUGRANT_SUBMIT_QUEUE = 1
    settings.GPUGRANT_SUBMIT_QUEUE_WAIT_MS = 60_000  # far longer than the test: the release wakes it
    inner = Inner()
    held = throttling.submission_slot()
    held.__enter__()  # another submission holds the only slot
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(call(ShedSubmissions(inner), environ())[0]))
    waiter.start()
    _wait_until(lambda: _waiting(1))
    # the queue (one place) is full: the next is refused at once, not queued
    assert call(ShedSubmissions(inner), environ())[0].startswith("503")
    held.__exit__(None, None, None)  # the slot is freed: the waiting submission takes it
    waiter.join(timeout=30)
    assert answers == ["201 Created"] and inner.calls == [("/api/v1/jobs", True, 1)]
    assert throttling._slots == {"in_flight": 0, "waiting": 0}


def test_a_submission_that_waits_its_whole_limit_is_refused_with_retry_after(cap_one, settings):
    settings.GPUGRANT_SUBMIT_QUEUE = 4
    settings.GPUGRANT_SUBMIT_QUEUE_WAIT_MS = 1  # no slot frees within it
    inner = Inner()
    with throttling.submission_slot():
        status, headers, _ = call(ShedSubmissions(inner), environ())
    assert status.startswith("503") and headers["Retry-After"] == "3" and inner.calls == []
    assert throttling._slots == {"in_flight": 0, "waiting": 0}


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


@pytest.mark.django_db
def test_the_view_takes_no_second_slot_when_the_wsgi_guard_holds_one(
    client_for, owner, allocation, nodes, settings
):
    settings.GPUGRANT_SUBMIT_CONCURRENCY = 1
    with throttling.submission_slot():  # as if ShedSubmissions had taken it for this request
        admitted = client_for(owner).post(
            "/api/v1/jobs", body(allocation), format="json", **{SLOT_TAKEN: True}
        )
        refused = client_for(owner).post("/api/v1/jobs", body(allocation, name="b"), format="json")
    assert (admitted.status_code, refused.status_code) == (201, 503)
