"""The test-cluster overlay installed for real on the test control plane (tests/cluster, Kubernetes v1.37.2),
as docs/operations.md installs it: the Secrets of deploy/templates filled in (throwaway values), then the
overlay as the real kustomize renders it, with ``kubectl apply --server-side``. Two GPU nodes and one node
without GPUs.

Real here: the API server (validation, defaulting, Pod Security admission: namespace gpugrant enforces
"restricted"), kube-controller-manager turning the Deployments, the DaemonSet and the Job into pods (and
filling the Service's EndpointSlices and the disruption budgets' status), and kube-scheduler placing those
pods by node selector, taints and tolerations, and requests.

Not real: no container ever runs. kwok plays the kubelet of every node: a pod bound to a node is reported
Running and Ready at once (no image is pulled, no init container or probe runs, envFrom is not resolved) and
a Job's pod succeeds after 1 s. So "available" here means admitted, placed and started as far as the control
plane can tell, not serving. The HorizontalPodAutoscaler, the PodDisruptionBudgets' effect on evictions, the
NetworkPolicies and the Ingress are only accepted and stored: there is no metrics server (the autoscaler
cannot read CPU), no CNI (nothing enforces a policy) and no ingress controller (nothing serves the host).
"""

from urllib.parse import quote

import pytest
import yaml

from tests.cluster.controlplane import ControlPlaneError, cpu_node, gpu_node
from tests.cluster.fixtures import RBAC_FILES
from tests.deploy.kustomize import object_id
from tests.deploy.manifests import (
    AGENT,
    BASE,
    component,
    filled_templates,
    find,
    kubectl_kustomize,
    kustomized,
)

pytestmark = pytest.mark.cluster

OVERLAY = "test-cluster"
GPU_NODES = ("deploy-gpu-0", "deploy-gpu-1")
CPU_NODE = "deploy-cpu-0"
# What tests/cluster/fixtures.py applies from deploy/base for the whole session: restored, not deleted.
SHARED_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
DEPLOYMENTS = (
    "gpugrant-portal",
    "gpugrant-sessions",
    "gpugrant-worker",
    "gpugrant-beat",
    "gpugrant-scheduler-watch",
)
TIMEOUT = 60  # seconds; generous for two CPU cores shared with the rest of the suite


@pytest.fixture(scope="module")
def installed(control_plane):
    """The overlay applied on two GPU nodes and one without GPUs; the plane and the rendered objects."""
    plane = control_plane
    objects = kustomized(OVERLAY)
    secrets = filled_templates(GPU_NODES)
    try:
        for name in GPU_NODES:
            plane.create_node(gpu_node(name))
        plane.create_node(cpu_node(CPU_NODE))
        plane.wait_nodes_ready([*GPU_NODES, CPU_NODE])
        # The Secrets first, as an operator does: every gpugrant pod loads them.
        plane.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(secrets))
        plane.kubectl("apply", "--server-side", "-f", "-", input=kubectl_kustomize(OVERLAY))
        yield plane, objects
    finally:
        _uninstall(plane, [*objects, *secrets])


def _uninstall(plane, objects: list[dict]) -> None:
    own = [obj for obj in objects if obj["kind"] not in SHARED_KINDS]
    # Foreground: each workload goes only once its pods have, so no pod outlives the nodes below.
    manifest = yaml.safe_dump_all(own)
    plane.kubectl(
        "delete", "--ignore-not-found", "--cascade=foreground", "--timeout=60s", "-f", "-", input=manifest
    )
    for name in (*GPU_NODES, CPU_NODE):
        plane.request("DELETE", f"/api/v1/nodes/{name}")
    # Applied again with the same field manager, the shared objects lose the overlay's labels.
    for name in RBAC_FILES:
        plane.kubectl("apply", "--server-side", "-f", str(BASE / name))


def _get(plane, path: str) -> dict:
    status, body = plane.request("GET", path)
    assert status == 200, body
    return body


def _pods(plane, namespace: str) -> list[dict]:
    return _get(plane, f"/api/v1/namespaces/{namespace}/pods")["items"]


def _wait_status(plane, path: str, done, what: str) -> dict:
    """The object at ``path`` once ``done(its status)`` holds; on a timeout, the status it last had."""
    last: dict = {}

    def check():
        last.update(_get(plane, path))
        return done(last.get("status", {})) and last

    try:
        return plane.wait_for(check, what, TIMEOUT)
    except ControlPlaneError as error:
        raise AssertionError(f"{error}; its status: {last.get('status')}") from None


def _placed_pods(plane, objects: list[dict]) -> list[dict]:
    """The pods of both namespaces once every workload has its pods bound to nodes: one per Deployment and
    the Job, one agent per GPU node."""
    workloads = [component(obj) for obj in objects if obj["kind"] in ("Deployment", "Job")]
    wanted = sorted(workloads + [AGENT] * len(GPU_NODES))
    placed: list[dict] = []

    def all_placed():
        pods = _pods(plane, "gpugrant") + _pods(plane, "gpugrant-node-agent")
        placed[:] = [pod for pod in pods if pod["spec"].get("nodeName")]
        return sorted(_component(pod) for pod in placed) == wanted

    try:
        plane.wait_for(all_placed, "every workload's pods placed", TIMEOUT)
    except ControlPlaneError as error:
        raise AssertionError(f"{error}; placed: {sorted(_component(pod) for pod in placed)}") from None
    return placed


def _component(pod: dict) -> str:
    return pod["metadata"]["labels"]["app.kubernetes.io/component"]


def test_every_object_of_the_overlay_is_stored(installed):
    plane, objects = installed

    stored = yaml.safe_load(
        plane.kubectl("get", "-o", "yaml", "-f", "-", input=kubectl_kustomize(OVERLAY)).stdout
    )

    assert sorted(object_id(obj) for obj in stored["items"]) == sorted(object_id(obj) for obj in objects)
    assert all(obj["metadata"]["labels"]["gpugrant.io/environment"] == "test" for obj in stored["items"])


def test_the_migration_job_completes(installed):
    plane, _ = installed

    job = _wait_status(
        plane,
        "/apis/batch/v1/namespaces/gpugrant/jobs/gpugrant-migrate",
        lambda status: any(
            c["type"] == "Complete" and c["status"] == "True" for c in status.get("conditions", [])
        ),
        "the migration Job Complete",
    )

    assert job["status"]["succeeded"] == 1
    assert not job["status"].get("failed")


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_each_deployment_has_its_one_replica_available(installed, name):
    plane, _ = installed

    deployment = _wait_status(
        plane,
        f"/apis/apps/v1/namespaces/gpugrant/deployments/{name}",
        lambda status: status.get("availableReplicas") == 1,
        f"Deployment {name} available",
    )

    # One replica of everything on the test cluster; the portal's count is the default its autoscaler keeps.
    assert deployment["spec"]["replicas"] == 1
    (available,) = [c for c in deployment["status"]["conditions"] if c["type"] == "Available"]
    assert available["status"] == "True"


def test_the_node_agent_is_ready_on_every_gpu_node_and_nowhere_else(installed):
    plane, _ = installed

    _wait_status(
        plane,
        "/apis/apps/v1/namespaces/gpugrant-node-agent/daemonsets/gpugrant-node-agent",
        lambda status: (
            status.get("numberReady") == len(GPU_NODES)
            and status.get("desiredNumberScheduled") == len(GPU_NODES)
        ),
        f"the node agent ready on {len(GPU_NODES)} GPU nodes",
    )

    assert sorted(pod["spec"]["nodeName"] for pod in _pods(plane, "gpugrant-node-agent")) == sorted(GPU_NODES)


def test_gpugrants_own_pods_stay_off_the_tainted_gpu_nodes(installed):
    plane, objects = installed

    pods = _placed_pods(plane, objects)

    # The GPU nodes have four times the CPU free: only the taint keeps these pods off them.
    nodes = {pod["spec"]["nodeName"] for pod in pods if pod["metadata"]["namespace"] == "gpugrant"}
    assert nodes == {CPU_NODE}


def test_the_restricted_namespace_would_refuse_the_node_agents_pod(installed):
    plane, objects = installed
    agent = find(objects, "DaemonSet", "gpugrant-node-agent")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agent-misplaced"}, "spec": agent["spec"]}

    status, body = plane.request("POST", "/api/v1/namespaces/gpugrant/pods?dryRun=All", pod)

    # Why the agent has a namespace of its own: Pod Security admission really enforces "restricted" here.
    assert status == 403
    assert 'violates PodSecurity "restricted:' in body["message"]


@pytest.mark.parametrize("name", ("portal", "sessions"))
def test_each_service_reaches_its_pod_on_its_named_port(installed, name):
    plane, _ = installed
    selector = quote(f"kubernetes.io/service-name=gpugrant-{name}")

    def ready_endpoints():
        slices = _get(
            plane, f"/apis/discovery.k8s.io/v1/namespaces/gpugrant/endpointslices?labelSelector={selector}"
        )
        return [
            (endpoint, slice_["ports"])
            for slice_ in slices["items"]
            for endpoint in slice_.get("endpoints") or []
            if endpoint["conditions"].get("ready")
        ]

    ((endpoint, ports),) = plane.wait_for(ready_endpoints, f"a ready endpoint of the {name} Service", TIMEOUT)

    (pod,) = [
        pod for pod in _pods(plane, "gpugrant") if pod["metadata"]["name"] == endpoint["targetRef"]["name"]
    ]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == name
    assert ports == [{"name": "http", "port": 8000, "protocol": "TCP"}]  # targetPort "http" resolved


@pytest.mark.parametrize("name", ("gpugrant-portal", "gpugrant-sessions", "gpugrant-worker"))
def test_each_disruption_budget_counts_its_one_healthy_pod(installed, name):
    plane, _ = installed

    budget = _wait_status(
        plane,
        f"/apis/policy/v1/namespaces/gpugrant/poddisruptionbudgets/{name}",
        lambda status: status.get("expectedPods") == 1 and status.get("currentHealthy") == 1,
        f"PodDisruptionBudget {name} counting its pod",
    )

    # maxUnavailable 1, not minAvailable 1: a single replica must not block a node drain.
    assert budget["status"]["disruptionsAllowed"] == 1


def test_every_configmap_and_secret_a_pod_loads_exists(installed):
    # kwok starts containers without reading these; a kubelet would refuse to (CreateContainerConfigError).
    plane, objects = installed
    loaded = set()
    for pod in _placed_pods(plane, objects):
        namespace, spec = pod["metadata"]["namespace"], pod["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    loaded.add((namespace, "configmaps", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    loaded.add((namespace, "secrets", source["secretRef"]["name"]))
        loaded |= {
            (namespace, "secrets", v["secret"]["secretName"]) for v in spec["volumes"] if "secret" in v
        }

    missing = [
        (namespace, kind, name)
        for namespace, kind, name in sorted(loaded)
        if plane.request("GET", f"/api/v1/namespaces/{namespace}/{kind}/{name}")[0] != 200
    ]

    assert ("gpugrant", "secrets", "gpugrant") in loaded
    assert ("gpugrant-node-agent", "secrets", "gpugrant-node-keys") in loaded
    assert missing == []
