"""How KubernetesBackend finds its cluster: KUBECONFIG when set, else in-cluster; a host or client for tests."""

import json

import pytest
from kubernetes.config.config_exception import ConfigException

from scheduler.backends import get_backend, reset_backends
from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends import k8s_builders as b


def test_it_reads_kubeconfig_when_it_is_set(fake_api, tmp_path, monkeypatch):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "loopback",
                "clusters": [{"name": "loopback", "cluster": {"server": fake_api.url}}],
                "users": [{"name": "scheduler", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "loopback", "context": {"cluster": "loopback", "user": "scheduler"}}],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    fake_api.put(b.node("gpu-a"))

    assert [info.name for info in KubernetesBackend(qps=0).inventory()] == ["gpu-a"]


def test_without_kubeconfig_it_expects_to_run_inside_the_cluster(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(ConfigException):
        KubernetesBackend()


def test_the_backend_registry_builds_it_by_name(fake_api, settings, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "")
    settings.GPUGRANT_BACKEND = "kubernetes"
    reset_backends()
    try:
        with pytest.raises(
            ConfigException
        ):  # no cluster here; the point is that the name resolves to this class
            get_backend()
    finally:
        reset_backends()


def test_the_connection_pool_is_sized_to_the_burst(fake_api, settings):
    settings.GPUGRANT_K8S_BURST = 37

    backend = KubernetesBackend(host=fake_api.url)

    api_client = backend._core.api_client
    assert api_client.configuration.connection_pool_maxsize == 39  # the burst, plus the two watches
    assert api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] == 39
