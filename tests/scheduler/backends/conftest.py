"""Kubernetes backend fixtures.

Against the real control plane (tests/cluster): ``cluster_backend`` (the backend as the gpugrant-scheduler
service account, whose ClusterRole is deploy/base's), ``org_namespace``, ``audit`` and ``admission``
(tests/scheduler/backends/k8s_cluster.py).

On the loopback stand-in (fake_apiserver.py), for the tests that still use it: ``fake_api``, a fresh
server per test authorising requests with the scheduler ClusterRole, and ``k8s_backend`` on it.
"""

import pytest

from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import FakeApiServer, cluster_role_rules
from tests.scheduler.backends.k8s_cluster import Admission, AuditTrail


@pytest.fixture
def cluster_backend(cluster):
    return KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)


@pytest.fixture
def org_namespace(cluster):
    """The namespace bind() makes for k8s_builders' organisation."""
    return f"{cluster.prefix}{b.ORGANISATION_ID}"


@pytest.fixture
def audit(cluster):
    """The requests gpugrant-scheduler makes from now on, as the apiserver's audit log has them."""
    return AuditTrail(cluster.plane)


@pytest.fixture
def admission(cluster):
    made = Admission(cluster)
    yield made
    made.restore()


@pytest.fixture
def fake_api():
    server = FakeApiServer(rbac=cluster_role_rules()).start()
    yield server
    server.stop()


@pytest.fixture
def k8s_backend(fake_api, settings):
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = "gpugrant-"
    settings.GPUGRANT_K8S_NETWORK_POLICY = False  # the stand-in serves the core API group only
    return KubernetesBackend(
        host=fake_api.url, qps=0, burst=10, request_timeout=(2.0, 10.0), watch_timeout_seconds=60
    )
