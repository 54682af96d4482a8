"""Helpers for Kubernetes backend tests against the real control plane (tests/cluster).

What the backend asked for is read from the apiserver's audit log (``AuditTrail``); faults come from the
real server's own machinery (``Admission``: a ValidatingAdmissionPolicy, a webhook nobody answers);
other people's pods are real pods in another namespace of the test's prefix.
"""

import base64
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

from tests.cluster.controlplane import KWOK_ANNOTATION, gpu_node
from tests.cluster.fixtures import SCHEDULER_ACCOUNT

SCHEDULER_USER = "system:serviceaccount:{}:{}".format(*SCHEDULER_ACCOUNT)
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
MERGE_PATCH = "application/merge-patch+json"
SCHEDULER_ROLE = Path(__file__).resolve().parents[3] / "deploy" / "base" / "scheduler-clusterrole.yaml"


@dataclass(frozen=True)
class Call:
    """One request as the audit log recorded it."""

    verb: str
    resource: str  # with its subresource: "pods/log"
    namespace: str
    name: str
    code: int
    query: dict[str, str]

    @classmethod
    def of(cls, event: dict) -> "Call":
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        return cls(
            verb=event["verb"],
            resource=resource,
            namespace=ref.get("namespace", ""),
            name=ref.get("name", ""),
            code=(event.get("responseStatus") or {}).get("code", 0),
            query=dict(parse_qsl(urlsplit(event["requestURI"]).query)),
        )


class AuditTrail:
    """The requests one user made of the API server from the moment this was made (or ``restart``ed).

    The apiserver writes each event before it answers (blocking audit mode), so a request the caller
    has had its answer to is already here.
    """

    def __init__(self, plane, user: str = SCHEDULER_USER):
        self._plane = plane
        self._user = user
        self._offset = plane.audit_offset()

    def restart(self) -> None:
        self._offset = self._plane.audit_offset()

    def calls(self, verb: str | None = None, resource: str | None = None) -> list[Call]:
        events, _ = self._plane.audit_events(self._offset)
        calls = [
            Call.of(event)
            for event in events
            if event.get("stage") == "ResponseComplete" and event["user"]["username"] == self._user
        ]
        return [c for c in calls if verb in (None, c.verb) and resource in (None, c.resource)]


class Admission:
    """Make the real apiserver refuse or fail requests in this test's namespaces (those starting with its
    prefix), with cluster-wide objects that ``restore`` removes (the ``admission`` fixture calls it).

    The apiserver loads admission objects a moment after they are stored, so each method waits until a
    dry run of the same request in the probe namespace is answered the new way.
    """

    def __init__(self, cluster):
        self._cluster = cluster
        self._prefix = cluster.prefix
        self.probe_namespace = f"{cluster.prefix}probe"
        self._made: list[str] = []
        self._probe_pod: str | None = None
        ensure_namespace(cluster, self.probe_namespace)

    def refuse_create(self, resource: str, name: str, message: str, *, reason: str = "Invalid") -> None:
        """A ValidatingAdmissionPolicy that refuses to create the ``resource`` (pods, serviceaccounts) called
        ``name``: 422 for reason Invalid, 403 for Forbidden."""
        policy = f"{self._prefix}refuse-{resource}-{name}"
        in_test = f"request.namespace.startsWith('{self._prefix}')"
        self._apply(
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": policy},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {"resourceRules": [_core_rule(resource, ["CREATE"])]},
                    "validations": [
                        {
                            "expression": f"!({in_test} && object.metadata.name == '{name}')",
                            "message": message,
                            "reason": reason,
                        }
                    ],
                },
            },
        )
        self._apply(
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": policy},
                "spec": {"policyName": policy, "validationActions": ["Deny"]},
            },
        )
        # Refused, or else created (201) or already there (409: the probe namespace has its "default").
        self._cluster.wait_for(
            lambda: self._dry_run_create(resource, name) not in (201, 409),
            f"the policy refusing {name} to apply",
        )

    def fail_pods(self, operation: str) -> None:
        """A webhook with failurePolicy Fail that nobody answers: pod ``operation``s (CREATE, DELETE) get
        the apiserver's 500 "failed calling webhook"."""
        if operation == "DELETE" and self._probe_pod is None:
            self._probe_pod = "probe"  # something to try deleting
            create_pod(self._cluster, self.probe_namespace, _plain_pod(self._probe_pod))
        ca = base64.b64encode(self._cluster.pki.ca.read_bytes()).decode()
        self._apply(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": f"{self._prefix}down-{operation.lower()}"},
                "webhooks": [
                    {
                        "name": "down.gpugrant.test",
                        "clientConfig": {"url": "https://127.0.0.1:1/", "caBundle": ca},
                        "rules": [_core_rule("pods", [operation])],
                        "matchConditions": [
                            {
                                "name": "this-test",
                                "expression": f"request.namespace.startsWith('{self._prefix}')",
                            }
                        ],
                        "failurePolicy": "Fail",
                        "sideEffects": "None",
                        "admissionReviewVersions": ["v1"],
                        "timeoutSeconds": 2,
                    }
                ],
            },
        )
        self._cluster.wait_for(
            lambda: self._dry_run_operation(operation) == 500,
            f"the webhook failing pod {operation}s to apply",
        )

    def restore(self) -> None:
        """Remove everything made here, and wait until pod creates and deletes pass again."""
        while self._made:
            self._cluster.request("DELETE", self._made.pop())
        self._cluster.wait_for(lambda: self._dry_run_create("pods", "anything") == 201, "pod creates to pass")
        if self._probe_pod:
            self._cluster.wait_for(
                lambda: self._dry_run_delete(self._probe_pod) == 200, "pod deletes to pass"
            )

    def _apply(self, collection: str, obj: dict) -> None:
        self._cluster.apply(obj)
        self._made.append(f"{collection}/{obj['metadata']['name']}")

    def _dry_run_operation(self, operation: str) -> int:
        if operation == "DELETE":
            return self._dry_run_delete(self._probe_pod)
        return self._dry_run_create("pods", "anything")

    def _dry_run_create(self, resource: str, name: str) -> int:
        body = _plain_pod(name) if resource == "pods" else {"metadata": {"name": name}}
        path = f"/api/v1/namespaces/{self.probe_namespace}/{resource}?dryRun=All"
        return self._cluster.request("POST", path, body)[0]

    def _dry_run_delete(self, pod: str) -> int:
        path = f"/api/v1/namespaces/{self.probe_namespace}/pods/{pod}?dryRun=All"
        return self._cluster.request("DELETE", path)[0]


def _core_rule(resource: str, operations: list[str]) -> dict:
    return {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations, "resources": [resource]}


def _plain_pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "probe:1"}]},
    }


# --- objects of the cluster's ---------------------------------------------------------------------------


def ensure_namespace(cluster, name: str) -> None:
    status, body = cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    assert status in (201, 409), body


def create_pod(cluster, namespace: str, pod: dict) -> dict:
    ensure_namespace(cluster, namespace)
    status, body = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    assert status == 201, body
    return body


def foreign_pod(name: str, node: str, gpus: int, *, labels: dict | None = None, init_gpus: int = 0) -> dict:
    """A pod gpugrant did not create (someone's notebook, a Helm release …), which kube-scheduler places
    on ``node``."""

    def container(container_name: str, count: int) -> dict:
        return {
            "name": container_name,
            "image": f"{container_name}:1",
            "resources": {"limits": {"nvidia.com/gpu": str(count)}},
        }

    spec: dict = {
        "containers": [container("notebook", gpus)],
        "nodeSelector": {"kubernetes.io/hostname": node},
        "tolerations": [GPU_TOLERATION],
    }
    if init_gpus:
        spec["initContainers"] = [container("warmup", init_gpus)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "notebook"}},
        "spec": spec,
    }


def silent_gpu_node(name: str, **options) -> dict:
    """A Ready GPU node that kwok leaves alone: kube-scheduler places pods on it and they stay Pending
    until the test, as the node's kubelet, reports their status (``kubelet_reports``)."""
    node = gpu_node(name, **options)
    del node["metadata"]["annotations"][KWOK_ANNOTATION[0]]
    node["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    ]
    return node


def kubelet_reports(cluster, namespace: str, pod: str, status: dict) -> dict:
    """Write a pod's status through the status subresource, as its node's kubelet does."""
    code, body = cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/{pod}/status",
        {"status": status},
        content_type=MERGE_PATCH,
    )
    assert code == 200, body
    return body


def wait_scheduled(cluster, namespace: str, pod: str) -> str:
    """Wait until kube-scheduler has bound the pod; returns its node."""
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
    return cluster.wait_for(
        lambda: ((cluster.get(path) or {}).get("spec") or {}).get("nodeName"),
        f"pod {namespace}/{pod} scheduled",
    )


def wait_gone(cluster, path: str) -> None:
    cluster.wait_for(lambda: cluster.get(path) is None, f"{path} to be gone")


def missing_from(stored, sent, where: str = "") -> list[str]:
    """Where ``sent`` is not kept in ``stored``: every field sent must come back unchanged. The server may
    add fields (defaults, status) and list items (admission adds tolerations), never drop or change one."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [where or "."]
        return [
            problem
            for key, value in sent.items()
            for problem in missing_from(stored.get(key), value, f"{where}.{key}")
        ]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) < len(sent):
            return [where]
        return [
            problem
            for i, value in enumerate(sent)
            for problem in missing_from(stored[i], value, f"{where}[{i}]")
        ]
    return [] if stored == sent else [f"{where}: sent {sent!r}, stored {stored!r}"]


@contextmanager
def scheduler_account_without(cluster, suffix: str, dropped):
    """A service account bound to the scheduler's ClusterRole less the rules ``dropped(rule)`` picks;
    yields ((namespace, name), user) once RBAC applies it, and removes it all afterwards."""
    name = f"{cluster.prefix}{suffix}"
    role = yaml.safe_load(SCHEDULER_ROLE.read_text())
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    made = {
        "/api/v1/namespaces/gpugrant/serviceaccounts": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "gpugrant"},
        },
        f"{rbac}/clusterroles": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [rule for rule in role["rules"] if not dropped(rule)],
        },
        f"{rbac}/clusterrolebindings": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "gpugrant"}],
        },
    }
    for obj in made.values():
        cluster.apply(obj)
    user = f"system:serviceaccount:gpugrant:{name}"
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": {"verb": "create", "resource": "pods"}},
    }
    # RBAC applies a new binding a moment after it is stored.
    cluster.wait_for(
        lambda: (
            cluster.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)[1]
            .get("status", {})
            .get("allowed")
        ),
        "the binding to apply",
    )
    try:
        yield ("gpugrant", name), user
    finally:
        for collection, obj in reversed(made.items()):
            cluster.request("DELETE", f"{collection}/{obj['metadata']['name']}")
