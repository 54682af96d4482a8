"""KubernetesBackend.watch() faults that the real API server cannot be made to produce, on the loopback
stand-in (fake_apiserver.py). Everything else about the watch runs against the real control plane, in
test_kubernetes_watch.py.

- **410 Gone as the HTTP status of a watch request.** kube-apiserver v1.37.2 answers a watch from an expired
  resourceVersion with 200 and an ERROR event carrying code 410 (test_kubernetes_watch.py shows it after an
  etcd compaction and a restart of its watch cache). Older servers, and proxies in front of one, answer the
  request itself with 410, and the backend must relist then too.
- **A connection dropped mid-stream while the server stays up** (a load balancer's idle timeout, a proxy
  restarting). The real server ends a watch only cleanly (its timeoutSeconds) or by going away, and when it
  comes back its watch cache starts afresh, so every resume then gets 410 Gone: the server cannot drop one
  connection and still honour the resourceVersion the client resumes from.
"""

import pytest

from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import FakeApiServer, cluster_role_rules
from tests.scheduler.backends.k8s_watching import next_report, watching

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"


@pytest.fixture
def standin(settings):
    """The stand-in server, authorising with the scheduler ClusterRole, and a backend on it."""
    server = FakeApiServer(rbac=cluster_role_rules()).start()
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = "gpugrant-"
    settings.GPUGRANT_K8S_NETWORK_POLICY = False  # the stand-in serves the core API group only
    backend = KubernetesBackend(
        host=server.url, qps=0, burst=10, request_timeout=(2.0, 10.0), watch_timeout_seconds=60
    )
    yield server, backend
    server.stop()


def _watches_open(server) -> None:
    server.wait_for(lambda: server.open_watches("pods") == 1 and server.open_watches("nodes") == 1)


def _pod_name(job_id: str) -> str:
    return f"job-{job_id.replace('-', '')[:12]}-0"


def test_a_connection_dropped_mid_stream_resumes_from_the_last_resource_version_without_relisting(standin):
    server, backend = standin
    backend.bind(b.spec())

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID}
        _watches_open(server)
        seen = server.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Running", node_name="gpu-a")
        assert next_report(changes) == {b.JOB_ID}

        server.drop_watches("pods")
        server.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Succeeded")  # maybe while disconnected

        assert next_report(changes) == {b.JOB_ID}  # the change is not lost
        first, second = server.requests_for("watch", "pods")
        assert second.query["resourceVersion"] == seen["metadata"]["resourceVersion"]
        assert len(server.requests_for("list", "pods")) == 1


def test_410_gone_as_the_http_status_of_a_resumed_watch_relists_and_watches_on(standin):
    server, backend = standin
    other = b.other_job_id()
    backend.bind(b.spec())
    backend.bind(b.spec(job_id=other))

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID, other}
        _watches_open(server)
        # A change the watch never delivers (its history was compacted away), then the stream drops and
        # the resume is answered 410.
        server.remove("pods", _pod_name(other), NAMESPACE, silently=True)
        server.expire_watches("pods", as_event=False)

        assert next_report(changes) == {b.JOB_ID, other}  # after the relist every job, the vanished one too
        server.wait_for(lambda: server.open_watches("pods") == 1)
        server.set_pod_status(NAMESPACE, _pod_name(b.JOB_ID), phase="Running", node_name="gpu-a")
        assert next_report(changes) == {b.JOB_ID}  # and watching goes on from the new list

    first, refused, after_relist = server.requests_for("watch", "pods")
    assert int(after_relist.query["resourceVersion"]) >= server.oldest_watchable
    assert len(server.requests_for("list", "pods")) == 2


def test_a_first_watch_answered_410_as_its_http_status_relists(standin):
    server, backend = standin
    backend.bind(b.spec())
    server.fail("watch", "pods", 410, message="too old resource version: 1 (2)")
    server.fail("watch", "nodes", 410, message="too old resource version: 1 (2)")

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID}
        assert next_report(changes) == {b.JOB_ID}  # reported again after the relist
        _watches_open(server)

    assert len(server.requests_for("list", "pods")) == 2
    assert len(server.requests_for("list", "nodes")) == 2
