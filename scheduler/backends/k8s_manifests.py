"""Kubernetes objects for one gpugrant job, as plain dicts: pure functions of a JobSpec (no client, no I/O).

Placement is gpugrant's: each pod asks for its GPUs in ``resources.limits`` and is pinned to its node
by required node affinity on ``kubernetes.io/hostname``. By default gpugrant also binds it, by creating it
with ``spec.nodeName``; with ``bind_to_node=False`` kube-scheduler binds it, to the one node the affinity
allows. Either way the kubelet still admits the pod (resources, node affinity) and the device plugin picks
its devices (docs/kubernetes.md, "Binding a job").
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass

from scheduler.backends.base import SESSION_SOCKET, JobSpec

GPU_RESOURCE = "nvidia.com/gpu"
HOSTNAME_LABEL = "kubernetes.io/hostname"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "gpugrant"
JOB_LABEL = "gpugrant.io/job"
ORGANISATION_LABEL = "gpugrant.io/organisation"
ALLOCATION_LABEL = "gpugrant.io/allocation"
RANK_LABEL = "gpugrant.io/rank"
# Which of the node's GPU indices gpugrant's claim gave this pod. Kubernetes' device plugin picks the
# real devices; the indices keep gpugrant's per-GPU bookkeeping and the inventory's foreign-GPU count apart.
GPU_INDICES_ANNOTATION = "gpugrant.io/gpu-indices"
CONTAINER_NAME = "job"
RENDEZVOUS_PORT = 29500
DEFAULT_RUN_AS_USER = 1000  # job containers' user and group (settings.GPUGRANT_K8S_JOB_UID); never 0
# An interactive session's (docs/sessions.md, "Sessions on Kubernetes").
INTERACTIVE = "interactive"
SESSION_LABEL = "gpugrant.io/session"  # "true" on a session's pod, Service and Secret
WORKSPACE_USER_LABEL = "gpugrant.io/workspace-user"
WORKSPACE_ANNOTATION = "gpugrant.io/workspace"
SESSION_PORT = 8888
SESSION_PORT_NAME = "jupyter"
# JupyterLab listens on a UNIX socket where the job shares a folder with the host (the local backend); a
# pod is reached over the cluster network, so the socket's argument becomes a port on every address.
SESSION_SOCKET_ARGUMENT = f"--ServerApp.sock={SESSION_SOCKET}"
SESSION_LISTEN_ARGUMENTS = (f"--ServerApp.port={SESSION_PORT}", "--ServerApp.ip=0.0.0.0")
WORKSPACE_MOUNT = "/workspace"  # the session container's working directory, where its notebooks live
WORKSPACE_VOLUME = "workspace"
WORKSPACE_SIZE = "10Gi"
# Our own variables win over the job's environment of the same name.
RESERVED_ENV = ("GPUGRANT_JOB_ID", "WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")

_DNS_LABEL_MAX = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class JobManifests:
    namespace: dict
    service: dict | None  # a multi-pod job's headless Service, or a session's ClusterIP one
    pods: tuple[dict, ...]
    secret: dict | None = None  # a session's token
    workspace: dict | None = None  # a session owner's PersistentVolumeClaim


def job_hex(job_id: str) -> str:
    """The first 12 hex digits of the job's UUID: short enough for DNS, unique enough (48 bits)."""
    return uuid.UUID(job_id).hex[:12]


def pod_name(job_id: str, rank: int) -> str:
    return f"job-{job_hex(job_id)}-{rank}"


def service_name(job_id: str) -> str:
    return f"job-{job_hex(job_id)}"  # a DNS-1035 label: starts with a letter, as Services require


def secret_name(job_id: str) -> str:
    return f"job-{job_hex(job_id)}-session"


def workspace_claim_name(workspace: str) -> str:
    """The owner's claim, the same for each of their sessions: a hash of the key ("<organisation>/<user>"),
    which has a slash and may be longer than a DNS label allows."""
    return f"workspace-{hashlib.sha256(workspace.encode()).hexdigest()[:16]}"


def is_session(spec: JobSpec) -> bool:
    return spec.kind == INTERACTIVE


def session_url(service: str, namespace: str) -> str:
    """Where the proxy reaches a session's JupyterLab: its Service's cluster DNS name."""
    return f"http://{service}.{namespace}.svc:{SESSION_PORT}"


def namespace_name(organisation_id: str, prefix: str) -> str:
    """``prefix + organisation id`` as a DNS-1123 label (at most 63 of [a-z0-9-], alphanumeric at both ends).

    When the raw name is not already a valid label, a short hash of the raw id is appended, so two ids
    that clean up to the same text still get different namespaces.
    """
    raw = f"{prefix}{organisation_id}"
    cleaned = _NOT_DNS.sub("-", raw.lower()).strip("-")
    if cleaned == raw and len(cleaned) <= _DNS_LABEL_MAX:
        return cleaned
    digest = hashlib.sha256(organisation_id.encode()).hexdigest()[:8]
    head = cleaned[: _DNS_LABEL_MAX - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else f"o-{digest}"


def rendezvous_host(spec: JobSpec, prefix: str) -> str:
    """Where rank 0 listens: its pod's DNS name through the job's headless Service, or localhost alone."""
    if len(spec.pods) == 1:
        return "localhost"
    namespace = namespace_name(spec.organisation_id, prefix)
    return f"{pod_name(spec.job_id, 0)}.{service_name(spec.job_id)}.{namespace}.svc"


def namespace_manifest(organisation_id: str, prefix: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(organisation_id, prefix),
            "labels": {
                MANAGED_BY_LABEL: MANAGER,
                ORGANISATION_LABEL: organisation_id,
                # Pod Security Admission: job pods meet "restricted" (non-root, no privilege escalation, no
                # capabilities, RuntimeDefault seccomp, no host access); the API server refuses any pod
                # in an organisation's namespace that does not.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }


TENANT_POLICY_NAME = "gpugrant-tenant-isolation"


def tenant_policy_manifest(namespace: str, *, internet: bool, egress_except: tuple[str, ...]) -> dict:
    """The organisation's NetworkPolicy: its pods talk to each other (a job's ranks) and to the cluster's
    DNS, and, where ``internet`` is on, to addresses outside ``egress_except``; nothing else reaches them or
    is reached by them (the portal, the database and broker, the Kubernetes API, other organisations)."""
    same_namespace = {"podSelector": {}}
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    egress = [{"to": [same_namespace]}, dns]
    if internet:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(egress_except)}}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": TENANT_POLICY_NAME,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGER},
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [same_namespace]}],
            "egress": egress,
        },
    }


SESSION_POLICY_NAME = "gpugrant-session-ingress"
# Who forwards to sessions: the sessions' proxy, a Deployment of its own in gpugrant's namespace
# (deploy/base/sessions.yaml; the portal's pods are not it). deploy/base/networkpolicies.yaml
# (gpugrant-sessions-upstream) lets its pods out to sessions' port; this lets them in.
PROXY_NAMESPACE = "gpugrant"
PROXY_LABELS = {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "sessions"}


def session_policy_manifest(namespace: str) -> dict:
    """A second NetworkPolicy in an organisation's namespace, beside the tenant one (policies add up): the
    sessions' proxy may reach its sessions' pods, on JupyterLab's port only; its other pods stay closed."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": SESSION_POLICY_NAME,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGER},
        },
        "spec": {
            "podSelector": {"matchLabels": {SESSION_LABEL: "true"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": PROXY_NAMESPACE}
                            },
                            "podSelector": {"matchLabels": dict(PROXY_LABELS)},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": SESSION_PORT}],
                }
            ],
        },
    }


def service_manifest(spec: JobSpec, prefix: str) -> dict | None:
    """The headless Service that gives each pod of a multi-pod job a stable DNS name; None for one pod.

    A session's instead: a ClusterIP Service on JupyterLab's port, the address session_endpoint() gives.
    """
    if is_session(spec):
        return _session_service_manifest(spec, prefix)
    if len(spec.pods) == 1:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(spec.job_id),
            "namespace": namespace_name(spec.organisation_id, prefix),
            "labels": _job_labels(spec),
        },
        "spec": {
            "clusterIP": "None",
            "selector": {JOB_LABEL: spec.job_id},
            # Ranks resolve each other while still starting, before any of them is "ready".
            "publishNotReadyAddresses": True,
            "ports": [{"name": "rendezvous", "port": RENDEZVOUS_PORT, "targetPort": RENDEZVOUS_PORT}],
        },
    }


def _session_service_manifest(spec: JobSpec, prefix: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(spec.job_id),
            "namespace": namespace_name(spec.organisation_id, prefix),
            "labels": _job_labels(spec),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {JOB_LABEL: spec.job_id},
            "ports": [
                {
                    "name": SESSION_PORT_NAME,
                    "protocol": "TCP",
                    "port": SESSION_PORT,
                    "targetPort": SESSION_PORT,
                }
            ],
        },
    }


def session_secret_manifest(spec: JobSpec, prefix: str) -> dict:
    """The session's secrets (its JupyterLab token), which its pod reads by reference, never by value."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(spec.job_id),
            "namespace": namespace_name(spec.organisation_id, prefix),
            "labels": _job_labels(spec),
        },
        "type": "Opaque",
        "stringData": dict(spec.secrets),
    }


def workspace_claim_manifest(spec: JobSpec, prefix: str) -> dict:
    """The owner's workspace: made by their first session, kept after it, mounted by each later one.

    Labelled with the organisation and the user, not with a job: stop() and the cleaning after an
    outage select by job, so they never find it.
    """
    organisation, _, user = spec.workspace.partition("/")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": workspace_claim_name(spec.workspace),
            "namespace": namespace_name(spec.organisation_id, prefix),
            "labels": {
                MANAGED_BY_LABEL: MANAGER,
                ORGANISATION_LABEL: organisation,
                WORKSPACE_USER_LABEL: user,
            },
            "annotations": {WORKSPACE_ANNOTATION: spec.workspace},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": WORKSPACE_SIZE}},
        },
    }


def session_command(command: tuple[str, ...]) -> list[str]:
    """The session's command with its socket argument turned into a TCP port on every address."""
    rewritten: list[str] = []
    for part in command:
        if part == SESSION_SOCKET_ARGUMENT:
            rewritten.extend(SESSION_LISTEN_ARGUMENTS)
        elif SESSION_SOCKET in part:
            raise ValueError(f"a session's socket placeholder may only appear as {SESSION_SOCKET_ARGUMENT}")
        else:
            rewritten.append(part)
    return rewritten


def _check_session(spec: JobSpec) -> None:
    if len(spec.pods) != 1:
        raise ValueError(f"job {spec.job_id}: a session runs in one pod, not {len(spec.pods)}")
    organisation, _, user = spec.workspace.partition("/")
    if not (_is_uuid(organisation) and _is_uuid(user)):
        raise ValueError(f"job {spec.job_id}: not a workspace key: {spec.workspace!r}")


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def pod_manifests(
    spec: JobSpec, prefix: str, *, bind_to_node: bool = True, run_as_user: int = DEFAULT_RUN_AS_USER
) -> tuple[dict, ...]:
    ranks = sorted(pod.rank for pod in spec.pods)
    if ranks != list(range(len(spec.pods))):
        raise ValueError(f"job {spec.job_id}: pod ranks must be 0..{len(spec.pods) - 1}, got {ranks}")
    return tuple(
        _pod_manifest(spec, pod, prefix, bind_to_node, run_as_user)
        for pod in sorted(spec.pods, key=lambda pod: pod.rank)
    )


def job_manifests(
    spec: JobSpec, prefix: str, *, bind_to_node: bool = True, run_as_user: int = DEFAULT_RUN_AS_USER
) -> JobManifests:
    session = is_session(spec)
    if session:
        _check_session(spec)
    return JobManifests(
        namespace=namespace_manifest(spec.organisation_id, prefix),
        service=service_manifest(spec, prefix),
        pods=pod_manifests(spec, prefix, bind_to_node=bind_to_node, run_as_user=run_as_user),
        secret=session_secret_manifest(spec, prefix) if session else None,
        workspace=workspace_claim_manifest(spec, prefix) if session else None,
    )


def _job_labels(spec: JobSpec) -> dict[str, str]:
    labels = {
        **spec.labels,
        MANAGED_BY_LABEL: MANAGER,
        JOB_LABEL: spec.job_id,
        ORGANISATION_LABEL: spec.organisation_id,
        ALLOCATION_LABEL: spec.allocation_id,
    }
    if is_session(spec):
        labels[SESSION_LABEL] = "true"
    return labels


def _pod_manifest(spec: JobSpec, pod, prefix: str, bind_to_node: bool, run_as_user: int) -> dict:
    name = pod_name(spec.job_id, pod.rank)
    gpus = str(spec.gpus_per_pod)
    environment = {
        key: value
        for key, value in spec.environment.items()
        if key not in RESERVED_ENV and key not in spec.secrets
    }
    environment.update(
        {
            "GPUGRANT_JOB_ID": spec.job_id,
            "WORLD_SIZE": str(len(spec.pods)),
            "RANK": str(pod.rank),
            "MASTER_ADDR": rendezvous_host(spec, prefix),
            "MASTER_PORT": str(RENDEZVOUS_PORT),
        }
    )
    pod_spec: dict = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": spec.max_runtime_seconds,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME_LABEL, "operator": "In", "values": [pod.node]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        # "restricted": never root, whatever user the image names (the kubelet refuses to start a root one).
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": run_as_user,
            "runAsGroup": run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CONTAINER_NAME,
                "image": spec.image,
                "command": list(spec.command),
                "env": [{"name": key, "value": value} for key, value in environment.items()],
                "resources": {"limits": {GPU_RESOURCE: gpus}, "requests": {GPU_RESOURCE: gpus}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    }
    if is_session(spec):
        _add_session_parts(spec, pod_spec, run_as_user)
    if bind_to_node:
        # Bound at creation, as a scheduler's Binding would: one request per pod, no scheduler in between.
        pod_spec["nodeName"] = pod.node
    if len(spec.pods) > 1:
        pod_spec["hostname"] = name
        pod_spec["subdomain"] = service_name(spec.job_id)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace_name(spec.organisation_id, prefix),
            "labels": {**_job_labels(spec), RANK_LABEL: str(pod.rank)},
            "annotations": {GPU_INDICES_ANNOTATION: json.dumps(list(pod.gpu_indices))},
        },
        "spec": pod_spec,
    }


def _add_session_parts(spec: JobSpec, pod_spec: dict, run_as_user: int) -> None:
    """JupyterLab on its port, its token from the session's Secret by reference (never a value in the pod),
    and the owner's workspace as its working directory, writable by the job's group."""
    container = pod_spec["containers"][0]
    container["command"] = session_command(spec.command)
    container["workingDir"] = WORKSPACE_MOUNT
    container["ports"] = [{"name": SESSION_PORT_NAME, "containerPort": SESSION_PORT, "protocol": "TCP"}]
    container["env"].extend(
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name(spec.job_id), "key": key}}}
        for key in sorted(spec.secrets)
    )
    container["volumeMounts"] = [{"name": WORKSPACE_VOLUME, "mountPath": WORKSPACE_MOUNT}]
    pod_spec["volumes"] = [
        {
            "name": WORKSPACE_VOLUME,
            "persistentVolumeClaim": {"claimName": workspace_claim_name(spec.workspace)},
        }
    ]
    pod_spec["securityContext"]["fsGroup"] = run_as_user


def gpu_indices(pod: dict) -> tuple[int, ...]:
    """The GPU indices gpugrant gave a pod it created (its annotation), () when absent or unreadable."""
    raw = (pod.get("metadata", {}).get("annotations") or {}).get(GPU_INDICES_ANNOTATION, "")
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(index for index in value if isinstance(index, int)) if isinstance(value, list) else ()


def pinned_node(pod: dict) -> str:
    """The node a pod runs on, or, before it is scheduled, the node its hostname affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == HOSTNAME_LABEL and expression.get("operator") == "In":
                values = expression.get("values") or []
                if len(values) == 1:
                    return values[0]
    return ""
