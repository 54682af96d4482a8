"""How KubernetesBackend finds its cluster: KUBECONFIG when set, else in-cluster; a host or client for tests."""

import os
import subprocess
import sys

import pytest
from kubernetes.config.config_exception import ConfigException

from scheduler.backends import get_backend, reset_backends
from scheduler.backends.kubernetes import KubernetesBackend
from tests.cluster.fixtures import SCHEDULER_ACCOUNT


@pytest.mark.cluster
def test_it_reads_kubeconfig_when_it_is_set(cluster, monkeypatch):
    # The scheduler service account's token and the cluster's CA, as an operator's kubeconfig has them.
    kubeconfig = cluster.kubeconfig_for_service_account(*SCHEDULER_ACCOUNT)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    cluster.add_gpu_nodes("gpu-a")

    assert [info.name for info in KubernetesBackend(qps=0).inventory()] == ["gpu-a"]


def test_without_kubeconfig_it_expects_to_run_inside_the_cluster(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(ConfigException):
        KubernetesBackend()


def test_the_backend_registry_builds_it_by_name(settings, monkeypatch):
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


def test_the_connection_pool_is_sized_to_the_burst(settings):
    settings.GPUGRANT_K8S_BURST = 37

    backend = KubernetesBackend(host="https://127.0.0.1:6443")  # nothing is asked of it

    api_client = backend._core.api_client
    assert api_client.configuration.connection_pool_maxsize == 39  # the burst, plus the two watches
    assert api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] == 39


@pytest.mark.parametrize(
    ("value", "binds"), [("gpugrant", True), ("kube-scheduler", False), ("nobody", None)]
)
def test_gpugrant_k8s_binding_picks_who_binds_and_refuses_anything_else(value, binds):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.GPUGRANT_K8S_BINDING == 'gpugrant')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "GPUGRANT_K8S_BINDING": value}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )

    if binds is None:
        assert result.returncode != 0
        assert "GPUGRANT_K8S_BINDING must be 'gpugrant' or 'kube-scheduler', not 'nobody'" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(binds)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"GPUGRANT_K8S_JOB_UID": "0"}, "GPUGRANT_K8S_JOB_UID must be a user other than root, not 0"),
        ({"GPUGRANT_K8S_JOB_EGRESS_EXCEPT": "10.0.0.0/8,nonsense"}, "'nonsense' is not a CIDR"),
        ({"GPUGRANT_K8S_JOB_INTERNET": "sometimes"}, "GPUGRANT_K8S_JOB_INTERNET must be true or false"),
        (
            {"GPUGRANT_K8S_JOB_UID": "2000", "GPUGRANT_K8S_JOB_EGRESS_EXCEPT": "10.0.0.0/8, 203.0.113.9/32"},
            None,
        ),
    ],
)
def test_the_isolation_settings_refuse_root_and_malformed_ranges(env, error):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.GPUGRANT_K8S_JOB_UID, settings.GPUGRANT_K8S_JOB_EGRESS_EXCEPT)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    if error:
        assert result.returncode != 0 and error in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2000 ['10.0.0.0/8', '203.0.113.9/32']"
