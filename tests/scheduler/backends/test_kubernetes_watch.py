"""KubernetesBackend.watch(): list, then watch; resume after a dropped connection; relist after 410 Gone.

Every wait is on a real condition (a change delivered, a request the server saw) with a bounded timeout.
"""

import queue
import threading
from contextlib import contextmanager

from scheduler.backends.base import Phase
from tests.scheduler.backends import k8s_builders as b

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"
TIMEOUT = 30


@contextmanager
def watching(backend, on_change=None):
    changes: queue.Queue = queue.Queue()
    stop = threading.Event()

    def record(job_ids):
        changes.put(job_ids)
        if on_change:
            on_change(job_ids)

    thread = threading.Thread(target=backend.watch, args=(record, stop), daemon=True)
    thread.start()
    try:
        yield changes
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "watch() did not return after stop was set"


def _next(changes: queue.Queue) -> set[str]:
    return changes.get(timeout=TIMEOUT)


def _watches_open(fake_api) -> None:
    fake_api.wait_for(lambda: fake_api.open_watches("pods") == 1 and fake_api.open_watches("nodes") == 1)


def _pod_name(job_id: str) -> str:
    return f"job-{job_id.replace('-', '')[:12]}-0"


def test_it_reports_every_job_after_listing_then_each_job_whose_pods_change(fake_api, k8s_backend):
    other = b.other_job_id()
    k8s_backend.bind(b.spec())
    k8s_backend.bind(b.spec(job_id=other))
    fake_api.put(b.foreign_pod("notebook", "gpu-a", 1))

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID, other}
        _watches_open(fake_api)
        fake_api.set_pod_status(NAMESPACE, _pod_name(other), phase="Running", node_name="gpu-a")
        assert _next(changes) == {other}
        fake_api.put(b.foreign_pod("notebook-2", "gpu-a", 1))  # not ours: not watched
        k8s_backend.stop(b.JOB_ID, "cancelled")
        assert _next(changes) == {b.JOB_ID}

    (watch,) = fake_api.requests_for("watch", "pods")
    assert watch.namespace == "" and watch.query["labelSelector"] == "app.kubernetes.io/managed-by=gpugrant"
    assert watch.query["resourceVersion"]  # watched from the list's resourceVersion, not from "now"


def test_a_dropped_connection_resumes_from_the_last_resource_version_without_relisting(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID}
        _watches_open(fake_api)
        seen = fake_api.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Running", node_name="gpu-a")
        assert _next(changes) == {b.JOB_ID}

        fake_api.drop_watches("pods")
        fake_api.set_pod_status(
            NAMESPACE, _pod_name(b.JOB_ID), phase="Succeeded"
        )  # while disconnected, maybe

        assert _next(changes) == {b.JOB_ID}  # the change is not lost
        first, second = fake_api.requests_for("watch", "pods")
        assert second.query["resourceVersion"] == seen["metadata"]["resourceVersion"]
        assert len(fake_api.requests_for("list", "pods")) == 1


def _relists_after_expiry(fake_api, k8s_backend, *, as_event: bool) -> None:
    other = b.other_job_id()
    k8s_backend.bind(b.spec())
    k8s_backend.bind(b.spec(job_id=other))

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID, other}
        _watches_open(fake_api)
        # A change the watch never delivers (its history was compacted away), then the 410.
        fake_api.remove("pods", _pod_name(other), NAMESPACE, silently=True)
        fake_api.expire_watches("pods", as_event=as_event)

        assert _next(changes) == {
            b.JOB_ID,
            other,
        }  # after a relist every job is reported, the vanished one too
        assert len(fake_api.requests_for("list", "pods")) == 2
        fake_api.wait_for(lambda: fake_api.open_watches("pods") == 1)
        fake_api.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Running", node_name="gpu-a")
        assert _next(changes) == {b.JOB_ID}  # and watching goes on from the new list

    watches = fake_api.requests_for("watch", "pods")
    assert int(watches[-1].query["resourceVersion"]) >= fake_api.oldest_watchable


def test_410_gone_as_an_http_status_relists_and_resumes(fake_api, k8s_backend):
    _relists_after_expiry(fake_api, k8s_backend, as_event=False)
    assert (
        len(fake_api.requests_for("watch", "pods")) == 3
    )  # the first, the resume answered 410, the one after the relist


def test_410_gone_as_an_error_event_relists_and_resumes(fake_api, k8s_backend):
    _relists_after_expiry(fake_api, k8s_backend, as_event=True)
    assert len(fake_api.requests_for("watch", "pods")) == 2  # the first (ended by the event), the one after


def test_a_first_watch_answered_410_relists_whichever_way_it_comes(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.fail("watch", "pods", 410, message="too old resource version: 1 (2)")
    fake_api.fail("watch", "nodes", 410, gone_as_event=True)

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID}
        assert _next(changes) == {b.JOB_ID}  # reported again after the relist
        _watches_open(fake_api)

    assert len(fake_api.requests_for("list", "pods")) == 2
    assert len(fake_api.requests_for("list", "nodes")) == 2


def test_a_deleted_node_reports_the_jobs_with_pods_on_it(fake_api, k8s_backend):
    on_b = b.other_job_id()
    fake_api.put(b.node("gpu-a"))
    fake_api.put(b.node("gpu-b"))
    k8s_backend.bind(b.spec([("gpu-a", (0,))]))
    k8s_backend.bind(b.spec([("gpu-b", (0,))], job_id=on_b))

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID, on_b}
        _watches_open(fake_api)

        fake_api.remove("nodes", "gpu-b")

        assert _next(changes) == {on_b}
        assert k8s_backend.statuses([on_b])[0].phase == Phase.LOST


def test_a_node_that_vanished_while_the_node_watch_was_expired_is_found_on_relist(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a"))
    k8s_backend.bind(b.spec([("gpu-a", (0,))]))

    with watching(k8s_backend) as changes:
        assert _next(changes) == {b.JOB_ID}
        _watches_open(fake_api)

        fake_api.remove("nodes", "gpu-a", silently=True)
        fake_api.expire_watches("nodes", as_event=True)

        assert _next(changes) == {b.JOB_ID}
        assert len(fake_api.requests_for("list", "nodes")) == 2


def test_a_failing_callback_does_not_end_the_watch(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    calls = []

    def explode_once(job_ids):
        calls.append(job_ids)
        if len(calls) == 1:
            raise RuntimeError("reconcile failed")

    with watching(k8s_backend, explode_once) as changes:
        assert _next(changes) == {b.JOB_ID}
        _watches_open(fake_api)
        fake_api.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Running", node_name="gpu-a")
        assert _next(changes) == {b.JOB_ID}

    assert len(calls) == 2


def test_setting_stop_closes_the_open_watches(fake_api, k8s_backend):
    with watching(k8s_backend):
        _watches_open(fake_api)

    fake_api.wait_for(lambda: fake_api.open_watches("pods") == 0 and fake_api.open_watches("nodes") == 0)
