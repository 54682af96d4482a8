"""Against an operator's own cluster, only where KUBECONFIG is set (`-m k8s`); skipped elsewhere, never
required by CI. Read-only: it lists nodes and pods and creates nothing.

Also how the two markers skip: `k8s` without KUBECONFIG, `cluster` where the test control plane is not
built (and CI, with GPUGRANT_REQUIRE_CLUSTER=1, fails instead).
"""

import pytest

from scheduler.backends.kubernetes import KubernetesBackend
from tests import conftest


@pytest.mark.k8s
def test_inventory_of_a_real_cluster(settings):
    infos = KubernetesBackend().inventory()

    for info in infos:
        assert info.gpu_count > 0
        assert info.gpu_type in set(settings.GPUGRANT_K8S_PRODUCT_MAP.values())
        assert info.schedulable == (info.unschedulable_reason == "")
        assert all(0 <= index < info.gpu_count for index in info.foreign_gpus)
    print(f"{len(infos)} GPU nodes: {[(info.name, info.gpu_type, info.gpu_count) for info in infos]}")


class _Item:
    def __init__(self, marker: str):
        self.marker, self.skips = marker, []

    def get_closest_marker(self, name):
        return name if name == self.marker else None

    def add_marker(self, marker):
        self.skips.append(marker)


def test_the_k8s_marker_skips_without_kubeconfig_even_when_services_are_required(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("GPUGRANT_REQUIRE_SERVICES", "1")
    monkeypatch.setenv("DATABASE_URL", "postgres://ci@127.0.0.1/gpugrant")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1//")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    item = _Item("k8s")

    conftest.pytest_collection_modifyitems(None, [item])  # no UsageError: a cluster is never required

    (skip,) = item.skips
    assert "KUBECONFIG" in skip.kwargs["reason"]


def test_the_k8s_marker_runs_where_kubeconfig_is_set(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    monkeypatch.delenv("GPUGRANT_REQUIRE_SERVICES", raising=False)
    item = _Item("k8s")

    conftest.pytest_collection_modifyitems(None, [item])

    assert item.skips == []


def test_required_services_are_still_required(monkeypatch):
    monkeypatch.setenv("GPUGRANT_REQUIRE_SERVICES", "1")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")

    with pytest.raises(pytest.UsageError, match="postgres"):
        conftest.pytest_collection_modifyitems(None, [])


def test_the_cluster_marker_skips_with_the_reason_where_the_control_plane_is_not_built(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUGRANT_CLUSTER_BIN", str(tmp_path))  # an empty folder: nothing built
    monkeypatch.delenv("GPUGRANT_REQUIRE_CLUSTER", raising=False)
    monkeypatch.delenv("GPUGRANT_REQUIRE_SERVICES", raising=False)
    item = _Item("cluster")

    conftest.pytest_collection_modifyitems(None, [item])

    (skip,) = item.skips
    assert "not built" in skip.kwargs["reason"] or "needs Go" in skip.kwargs["reason"]


def test_ci_requires_the_control_plane_so_its_tests_fail_rather_than_skip(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUGRANT_CLUSTER_BIN", str(tmp_path))
    monkeypatch.setenv("GPUGRANT_REQUIRE_CLUSTER", "1")
    monkeypatch.delenv("GPUGRANT_REQUIRE_SERVICES", raising=False)

    with pytest.raises(pytest.UsageError, match="GPUGRANT_REQUIRE_CLUSTER=1 but"):
        conftest.pytest_collection_modifyitems(None, [_Item("cluster")])


def test_the_cluster_marker_runs_where_every_binary_is_built(monkeypatch, tmp_path):
    from tests.cluster.controlplane import BINARIES

    for name in BINARIES:
        (tmp_path / name).touch()
    monkeypatch.setenv("GPUGRANT_CLUSTER_BIN", str(tmp_path))
    item = _Item("cluster")

    conftest.pytest_collection_modifyitems(None, [item])

    assert item.skips == []
