"""The scheduler ClusterRole (deploy/base) grants exactly what the Kubernetes backend uses: no more, no less.

"No more": here, one tour through every backend method (and the 409 and watch paths) must use every
(verb, resource) the ClusterRole grants. "No less": the loopback API server answers 403 to anything
the ClusterRole does not grant, in this test and in every other backend test (tests/scheduler/backends/
conftest.py), so a call the role lacks fails the test that makes it.
"""

import threading

import pytest
from kubernetes.client.exceptions import ApiException

from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import cluster_role_rules


def _tour(fake_api, backend) -> None:
    fake_api.put(b.node("gpu-a"))
    fake_api.put(b.node("gpu-b"))
    backend.inventory()
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))])
    backend.bind(spec)
    backend.bind(spec)  # 409s: reads the existing pods back
    backend.statuses([b.JOB_ID])
    backend.logs(b.JOB_ID, 1024)

    changes = []
    stop = threading.Event()
    thread = threading.Thread(target=backend.watch, args=(changes.append, stop), daemon=True)
    thread.start()
    fake_api.wait_for(lambda: fake_api.open_watches("pods") == 1 and fake_api.open_watches("nodes") == 1)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()

    backend.stop(b.JOB_ID, "cancelled")


def test_the_cluster_role_grants_exactly_the_calls_the_backend_makes(fake_api, k8s_backend):
    _tour(fake_api, k8s_backend)

    assert fake_api.recorded == cluster_role_rules()
    assert not [r for r in fake_api.requests if (r.verb, r.resource) not in cluster_role_rules()]


def test_the_fake_server_refuses_what_the_role_does_not_grant(fake_api, k8s_backend):
    with pytest.raises(ApiException) as refused:
        k8s_backend._raw("list_namespace")  # not a call the backend makes, so not granted

    assert refused.value.status == 403
    assert ("list", "namespaces") not in cluster_role_rules()
