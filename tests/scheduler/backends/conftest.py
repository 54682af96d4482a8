"""A fresh loopback API server per test, authorising requests with the scheduler ClusterRole in deploy/base."""

import pytest

from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends.fake_apiserver import FakeApiServer, cluster_role_rules


@pytest.fixture
def fake_api():
    server = FakeApiServer(rbac=cluster_role_rules()).start()
    yield server
    server.stop()


@pytest.fixture
def k8s_backend(fake_api, settings):
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = "gpugrant-"
    return KubernetesBackend(
        host=fake_api.url, qps=0, burst=10, request_timeout=(2.0, 10.0), watch_timeout_seconds=60
    )
