"""Driving KubernetesBackend.watch() against the real test control plane (tests/cluster), and reading what the
backend asked the API server for from its audit log.

``WatchGate`` holds the backend's watch requests (not its lists, not the other calls) while it is closed, so
that a test can change the cluster, compact etcd or restart the API server while the backend is *between*
watches, as after a real disconnection. The real server then answers the resume as it would.
"""

import functools
import itertools
import queue
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest

from scheduler.backends.kubernetes import MANAGED_SELECTOR
from tests.cluster.fixtures import SCHEDULER_ACCOUNT

SCHEDULER_USER = "system:serviceaccount:{}:{}".format(*SCHEDULER_ACCOUNT)
TIMEOUT = 30
# The CoreV1Api methods the backend lists and watches with, by the resource they serve.
WATCHED = {"pods": "list_pod_for_all_namespaces", "nodes": "list_node"}


class WatchGate:
    """While closed for a resource, a watch request for it waits here: the previous stream has ended and
    the next has not been sent. Lists and every other call pass."""

    def __init__(self, backend):
        self._closed: set[str] = set()
        self._held: set[str] = set()
        self._changed = threading.Condition()
        core = backend._core
        for resource, method in WATCHED.items():
            setattr(core, method, self._holding(resource, getattr(core, method)))

    def _holding(self, resource: str, method):
        @functools.wraps(method)  # the watch client reads the item type from the method's signature
        def held(*args, **kwargs):
            if kwargs.get("watch"):
                with self._changed:
                    self._held.add(resource)
                    self._changed.notify_all()
                    # Bounded, so that a test that failed while it was closed cannot leave a loop waiting.
                    self._changed.wait_for(lambda: resource not in self._closed, timeout=120)
                    self._held.discard(resource)
            return method(*args, **kwargs)

        return held

    @contextmanager
    def closed(self, *resources: str, timeout: float = TIMEOUT):
        """Closed for ``resources`` inside the block, which starts once each one's watch is held here."""
        try:
            with self._changed:
                self._closed |= set(resources)
                held = self._changed.wait_for(lambda: set(resources) <= self._held, timeout)
            assert held, f"the backend did not come back to watch {resources} within {timeout} s"
            yield
        finally:
            with self._changed:
                self._closed -= set(resources)
                self._changed.notify_all()


@contextmanager
def watching(backend, on_change=None):
    """Run ``backend.watch`` in a thread of its own; yields the queue of the job-id sets it reports."""
    changes: queue.Queue = queue.Queue()
    stop = threading.Event()

    def record(job_ids):
        changes.put(job_ids)
        if on_change:
            on_change(job_ids)

    thread = threading.Thread(target=backend.watch, args=(record, stop), name="k8s-watch-pods", daemon=True)
    thread.start()
    try:
        yield changes
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "watch() did not return after stop was set"


def next_report(changes: queue.Queue, timeout: float = TIMEOUT) -> set[str]:
    try:
        return changes.get(timeout=max(0.0, timeout))
    except queue.Empty:
        pytest.fail("the watch reported nothing more in time")


def reports_until(changes: queue.Queue, wanted, timeout: float = TIMEOUT) -> list[set[str]]:
    """Every report up to and including the first for which ``wanted(report)`` holds, within ``timeout``."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        seen.append(next_report(changes, deadline - time.monotonic()))
        if wanted(seen[-1]):
            return seen


def restart_apiserver(cluster) -> None:
    """Restart the session's API server, then wait until the components that talk to it work again (they
    reconnect with backoff): the controller manager gives a new namespace its default service account, which
    admission needs before it lets a pod in; kube-scheduler binds a pod, and kwok starts it."""
    cluster.restart_apiserver()
    probe = f"{cluster.prefix}after-restart-{next(_probes)}"
    status, body = cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": probe}})
    assert status == 201, body
    cluster.wait_for(
        lambda: cluster.get(f"/api/v1/namespaces/{probe}/serviceaccounts/default"),
        "the controller manager after the restart",
        timeout=60,
    )
    pod = {
        "metadata": {"name": "probe"},
        "spec": {
            "containers": [{"name": "main", "image": "probe:1"}],
            "tolerations": [{"operator": "Exists"}],
        },
    }
    status, body = cluster.request("POST", f"/api/v1/namespaces/{probe}/pods", pod)
    assert status == 201, body
    cluster.wait_pod_phase(probe, "probe", "Running", timeout=60)


_probes = itertools.count(1)


# --- the audit log ------------------------------------------------------------------------------------


def requests_of(plane, offset: int, user: str = SCHEDULER_USER) -> list[dict]:
    """The requests ``user`` made since audit-log byte ``offset``, one audit event each (a watch logs a
    ResponseStarted event when it opens and a ResponseComplete one when it ends: the first is kept)."""
    events, _ = plane.audit_events(offset)
    first: dict[str, dict] = {}
    for event in events:
        if event["user"]["username"] == user:
            first.setdefault(event["auditID"], event)
    return list(first.values())


def calls(plane, offset: int, verb: str, resource: str, user: str = SCHEDULER_USER) -> list[dict]:
    return [
        event
        for event in requests_of(plane, offset, user)
        if event["verb"] == verb and event["objectRef"].get("resource") == resource
    ]


def pod_relists(plane, offset: int) -> list[dict]:
    """The watch loop's lists of gpugrant's pods (statuses() lists pods by job instead)."""
    return [
        e for e in calls(plane, offset, "list", "pods") if query(e).get("labelSelector") == MANAGED_SELECTOR
    ]


def query(event: dict) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(event["requestURI"]).query).items()}


def watch_ended(plane, offset: int, event: dict) -> bool:
    """Whether the server has ended the watch request that ``event`` (logged after ``offset``) belongs to."""
    events, _ = plane.audit_events(offset)
    return any(e["auditID"] == event["auditID"] and e["stage"] == "ResponseComplete" for e in events)


def wait_watching(plane, offset: int, *resources: str) -> None:
    """Until the backend has listed and opened a watch of each resource since ``offset``."""
    plane.wait_for(
        lambda: all(calls(plane, offset, "watch", resource) for resource in resources),
        f"watches of {resources}",
        timeout=TIMEOUT,
    )
