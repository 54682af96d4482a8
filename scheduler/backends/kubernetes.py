"""The Kubernetes backend: gpugrant's placements become pods pinned by node affinity (docs/kubernetes.md).

This is the only module that imports the ``kubernetes`` client. Every API call passes one token
bucket (settings GPUGRANT_K8S_QPS / GPUGRANT_K8S_BURST): the Python client has no rate limiter of its
own, and client-go's default of 5 QPS is what limits other controllers' throughput.
Responses are read as plain JSON (``_preload_content=False``), the same shape the manifests are built in.
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

import kubernetes
from django.conf import settings
from kubernetes.client.exceptions import ApiException

from scheduler.backends import k8s_manifests as manifests
from scheduler.backends.base import (
    Backend,
    BindError,
    JobSpec,
    JobStatus,
    LeftoverFromEarlierRun,
    NodeInfo,
    Phase,
)

logger = logging.getLogger(__name__)

MANAGED_SELECTOR = f"{manifests.MANAGED_BY_LABEL}={manifests.MANAGER}"
PRODUCT_LABEL = "nvidia.com/gpu.product"
NON_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"
# Waiting reasons that never clear by themselves: report the job failed instead of pending until its deadline.
PERMANENT_WAITING_REASONS = frozenset({"InvalidImageName", "ErrImageNeverPull"})
SELECTOR_CHUNK = 50  # job ids per `gpugrant.io/job in (…)` selector, to keep request URLs short
LOG_LINE_GUESS = 64  # bytes per log line assumed when asking for the log's tail; narrowed if wrong
# How the kubelet's status message begins when it refuses a pod at admission (its resources, affinity).
KUBELET_REJECTED = "Pod was rejected"
# Pod admission's 403 while the namespace has no "default" ServiceAccount yet (NamespaceNotReady).
NO_SERVICE_ACCOUNT_YET = "error looking up service account"


class NamespaceNotReady(BindError):
    """The namespace has no "default" ServiceAccount yet, which pod admission needs: the controller manager
    adds it a moment after the namespace is made, later while it is catching up (an apiserver restart).

    The cluster's moment, not the job's fault, so it does not use up one of the job's requeues.
    """

    counts_as_requeue = False


class TokenBucket:
    """At most ``burst`` calls at once, refilled at ``rate`` per second; ``rate <= 0`` means no limit.

    A caller that finds the bucket empty reserves the next token (the count goes negative) and sleeps
    outside the lock until it is due, so concurrent callers queue fairly instead of spinning.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is due; returns the seconds slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class KubernetesBackend(Backend):
    name = "kubernetes"

    def __init__(
        self,
        *,
        api_client: "kubernetes.client.ApiClient | None" = None,
        host: str | None = None,
        qps: float | None = None,
        burst: int | None = None,
        bucket: TokenBucket | None = None,
        request_timeout: tuple[float, float] = (5.0, 30.0),
        watch_timeout_seconds: int = 300,
    ):
        """Configured from KUBECONFIG when it is set, else in-cluster; ``api_client`` or ``host`` (tests) win."""
        qps = settings.GPUGRANT_K8S_QPS if qps is None else qps
        burst = settings.GPUGRANT_K8S_BURST if burst is None else burst
        self._bucket = bucket or TokenBucket(qps, burst)
        if api_client is None:
            configuration = kubernetes.client.Configuration()
            if host:
                configuration.host = host
            elif os.environ.get("KUBECONFIG"):
                # Read KUBECONFIG now: the client's own default was fixed when it was imported.
                kubernetes.config.load_kube_config(
                    config_file=os.environ["KUBECONFIG"], client_configuration=configuration
                )
            else:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            # One connection per call the bucket lets through at once, plus the two long-lived watches.
            configuration.connection_pool_maxsize = max(1, burst) + 2
            api_client = kubernetes.client.ApiClient(configuration)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._networking = kubernetes.client.NetworkingV1Api(api_client)
        self._request_timeout = request_timeout
        self._watch_timeout_seconds = watch_timeout_seconds
        self._product_map: dict[str, str] = dict(settings.GPUGRANT_K8S_PRODUCT_MAP)
        self._prefix: str = settings.GPUGRANT_K8S_NAMESPACE_PREFIX
        # Binds are independent HTTP calls through one thread-safe client and bucket: the cycle may run
        # several at once (each still waits for its tokens).
        self.bind_concurrency = settings.GPUGRANT_K8S_BIND_CONCURRENCY
        # gpugrant binds its pods itself (spec.nodeName at creation) unless kube-scheduler is to bind them.
        self._bind_to_node = settings.GPUGRANT_K8S_BINDING == "gpugrant"
        self._namespaces_seen: set[str] = set()  # organisations' namespaces this process knows exist
        self._session_policy_seen: set[str] = set()  # where this process made sessions' ingress policy
        self._run_as_user = settings.GPUGRANT_K8S_JOB_UID
        self._tenant_policy = settings.GPUGRANT_K8S_NETWORK_POLICY
        self._internet = settings.GPUGRANT_K8S_JOB_INTERNET
        self._egress_except = tuple(settings.GPUGRANT_K8S_JOB_EGRESS_EXCEPT)

    # --- the Backend interface --------------------------------------------------------------------

    def inventory(self) -> list[NodeInfo]:
        nodes = self._json("list_node")["items"]
        pods = self._json("list_pod_for_all_namespaces", field_selector=NON_TERMINAL)["items"]
        ours: dict[str, set[int]] = {}
        foreign: dict[str, int] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                continue  # not on a node yet: holds no GPU
            if _is_ours(pod):
                ours.setdefault(node, set()).update(manifests.gpu_indices(pod))
            else:
                foreign[node] = foreign.get(node, 0) + _pod_gpus(pod)
        infos = []
        for node in nodes:
            name = node["metadata"]["name"]
            gpu_count = _gpu_quantity(
                ((node.get("status") or {}).get("allocatable") or {}).get(manifests.GPU_RESOURCE)
            )
            product = (node["metadata"].get("labels") or {}).get(PRODUCT_LABEL, "")
            gpu_type = self._product_map.get(product)
            if gpu_count <= 0 or gpu_type is None:
                if gpu_count > 0:
                    logger.debug(
                        "node %s: GPU product %r is not in GPUGRANT_K8S_PRODUCT_MAP; skipped", name, product
                    )
                continue
            reason = _unschedulable_reason(node)
            infos.append(
                NodeInfo(
                    name=name,
                    gpu_type=gpu_type,
                    gpu_count=gpu_count,
                    schedulable=not reason,
                    unschedulable_reason=reason,
                    foreign_gpus=_foreign_indices(gpu_count, ours.get(name, set()), foreign.get(name, 0)),
                )
            )
        return sorted(infos, key=lambda info: info.name)

    def bind(self, spec: JobSpec) -> None:
        """Namespace (shared, kept), then the Service, then the pods; any failure removes the job's objects.

        On failure every object this job's bind creates is deleted — also ones left by an earlier attempt
        for the same job — because the scheduler undoes the GPU claim on BindError and no pod may outlive it.
        """
        try:
            job = manifests.job_manifests(
                spec, self._prefix, bind_to_node=self._bind_to_node, run_as_user=self._run_as_user
            )
        except ValueError as error:
            raise BindError(str(error)) from error
        namespace = job.namespace["metadata"]["name"]
        refused: ApiException | None = None
        if namespace not in self._namespaces_seen:
            try:
                self._create("create_namespace", job.namespace)
            except ApiException as error:
                if error.status != 403:
                    raise BindError(_failure("create namespace", namespace, error)) from error
                # RBAC answers 403 before looking whether the namespace exists, so an account without
                # `create namespaces` (the cluster makes them) carries on; a create in a missing one answers 404.
                refused = error
            except Exception as error:  # noqa: BLE001 - any failure to start is a BindError
                raise BindError(_failure("create namespace", namespace, error)) from error
            self._apply_tenant_policy(namespace, refused)
        if job.secret is not None and namespace not in self._session_policy_seen:
            try:
                self._apply_policy(namespace, manifests.session_policy_manifest(namespace), None)
            except BindError:
                self._namespaces_seen.discard(namespace)  # perhaps it has gone: the next bind asks again
                raise
        try:
            # A session's Service comes before its Secret: what stop() and the cleaning after an outage
            # find by label (pods, Services) leads them to the Secret, which nobody lists.
            if job.service is not None:
                self._create("create_namespaced_service", job.service, namespace=namespace)
            if job.secret is not None:
                self._create_secret(namespace, job.secret)
            if job.workspace is not None:
                # The owner's workspace: made by their first session (409 for each later one), never deleted.
                self._create("create_namespaced_persistent_volume_claim", job.workspace, namespace=namespace)
            for pod in job.pods:
                if not self._create("create_namespaced_pod", pod, namespace=namespace):
                    self._check_existing_pod(namespace, pod)
        except Exception as error:  # noqa: BLE001 - any failure to start is a BindError
            self._delete_created(namespace, job)
            if isinstance(error, BindError):
                raise
            if isinstance(error, ApiException) and error.status == 404:
                # The namespace is gone (or never was): the next bind asks for it again, and its policies.
                self._namespaces_seen.discard(namespace)
                self._session_policy_seen.discard(namespace)
                if refused is not None:
                    raise BindError(_failure("create namespace", namespace, refused)) from refused
            message = _failure("bind", spec.job_id, error)
            if isinstance(error, ApiException) and error.status == 403 and NO_SERVICE_ACCOUNT_YET in message:
                raise NamespaceNotReady(message) from error
            raise BindError(message) from error
        # Pods were made in it, so it exists: later binds skip the create (a 409 each) until a 404 says otherwise.
        self._namespaces_seen.add(namespace)
        if job.secret is not None:
            self._session_policy_seen.add(namespace)

    def _apply_tenant_policy(self, namespace: str, refused: ApiException | None) -> None:
        """Make the namespace's NetworkPolicy what gpugrant wants before any pod runs there: created, or, when
        it exists (409), brought up to date by server-side apply. No policy, no pods: a failure fails the bind."""
        policy = manifests.tenant_policy_manifest(
            namespace, internet=self._internet, egress_except=self._egress_except
        )
        self._apply_policy(namespace, policy, refused)

    def _apply_policy(self, namespace: str, policy: dict, refused: ApiException | None) -> None:
        """Create a NetworkPolicy of gpugrant's, or bring an existing one up to date; off with the setting."""
        if not self._tenant_policy:
            return
        try:
            if not self._create_on(
                self._networking, "create_namespaced_network_policy", policy, namespace=namespace
            ):
                self._raw_on(
                    self._networking,
                    "patch_namespaced_network_policy",
                    policy["metadata"]["name"],
                    namespace,
                    body=policy,
                    field_manager=manifests.MANAGER,
                    force=True,
                    _content_type="application/apply-patch+yaml",
                )
        except Exception as error:  # noqa: BLE001 - any failure to start is a BindError
            if refused is not None and isinstance(error, ApiException) and error.status == 404:
                raise BindError(_failure("create namespace", namespace, refused)) from refused
            raise BindError(_failure("apply network policy in", namespace, error)) from error

    def stop(self, job_id: str, reason: str) -> None:
        """Delete the job's pods and Services, and a session's Secret; a session's workspace stays."""
        logger.info("stopping job %s (%s)", job_id, reason)
        selector = f"{manifests.JOB_LABEL}={job_id}"
        for pod in self._json("list_pod_for_all_namespaces", label_selector=selector)["items"]:
            self._delete("delete_namespaced_pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        for service in self._json("list_service_for_all_namespaces", label_selector=selector)["items"]:
            name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
            if _is_session(service):
                # Before its Service, which is what leads a retried stop here: gpugrant never lists Secrets.
                self._delete("delete_namespaced_secret", manifests.secret_name(job_id), namespace)
            self._delete("delete_namespaced_service", name, namespace)

    def owned_job_ids(self) -> set[str]:
        """Every job with a pod or a Service here (any phase: a finished pod still holds its record until
        removed; a session whose bind was cut short may have only its Service and Secret)."""
        found = set()
        for method in ("list_pod_for_all_namespaces", "list_service_for_all_namespaces"):
            for item in self._json(method, label_selector=manifests.JOB_LABEL)["items"]:
                found.add(item["metadata"]["labels"][manifests.JOB_LABEL])
        return found

    def session_endpoint(self, job_id: str) -> str | None:
        """The URL of a session's Service, where its JupyterLab answers on the cluster network; None before
        the Service exists, or for a job that is not a session."""
        selector = f"{manifests.JOB_LABEL}={job_id},{manifests.SESSION_LABEL}=true"
        services = self._json("list_service_for_all_namespaces", label_selector=selector)["items"]
        if not services:
            return None
        metadata = services[0]["metadata"]
        return manifests.session_url(metadata["name"], metadata["namespace"])

    def statuses(self, job_ids: list[str]) -> list[JobStatus]:
        if not job_ids:
            return []
        by_job: dict[str, list[dict]] = {job_id: [] for job_id in job_ids}
        for start in range(0, len(job_ids), SELECTOR_CHUNK):
            chunk = ",".join(job_ids[start : start + SELECTOR_CHUNK])
            for pod in self._json(
                "list_pod_for_all_namespaces", label_selector=f"{manifests.JOB_LABEL} in ({chunk})"
            )["items"]:
                job_id = pod["metadata"]["labels"].get(manifests.JOB_LABEL)
                if job_id in by_job:
                    by_job[job_id].append(pod)
        existing_nodes: set[str] = set()
        if any(_phase(pod) not in ("Succeeded", "Failed") for pods in by_job.values() for pod in pods):
            existing_nodes = {node["metadata"]["name"] for node in self._json("list_node")["items"]}
        # A job without pods is not reported: like the other backends, statuses() answers only for jobs it
        # knows. "No pods" may be a bind still in flight; the sweep requeues binds that never completed.
        return [_job_status(job_id, pods, existing_nodes) for job_id, pods in by_job.items() if pods]

    def logs(self, job_id: str, limit_bytes: int) -> str:
        """Rank 0's log, at most ``limit_bytes``, ending at the log's end whenever the API allows.

        The log API cannot return "the last N bytes": ``tailLines`` picks the last lines and ``limitBytes``
        stops reading after N bytes from there. So ask for a tail of about ``limit_bytes`` and, when the
        server cut it short (lines longer than guessed), ask again for fewer lines.
        """
        if limit_bytes <= 0:
            return ""
        selector = f"{manifests.JOB_LABEL}={job_id},{manifests.RANK_LABEL}=0"
        pods = self._json("list_pod_for_all_namespaces", label_selector=selector)["items"]
        if not pods:
            return ""
        name, namespace = pods[0]["metadata"]["name"], pods[0]["metadata"]["namespace"]
        lines = max(1, limit_bytes // LOG_LINE_GUESS)
        while True:
            try:
                data = self._raw(
                    "read_namespaced_pod_log",
                    name,
                    namespace,
                    container=manifests.CONTAINER_NAME,
                    limit_bytes=limit_bytes,
                    tail_lines=lines,
                )
            except ApiException as error:
                if error.status in (400, 404):  # gone, or its container has not started
                    return ""
                raise
            if len(data) < limit_bytes or lines == 1:
                return data[:limit_bytes].decode("utf-8", errors="replace")
            lines = max(1, lines // 4)

    # --- watching ---------------------------------------------------------------------------------

    def watch(self, on_change: Callable[[set[str]], None], stop: threading.Event) -> None:
        """Call ``on_change(job_ids)`` whenever gpugrant's pods change; returns once ``stop`` is set.

        Two list-then-watch loops: gpugrant's pods (in this thread) and nodes (in a helper thread).
        After every (re)list, every job seen before or now is reported, since changes in between may
        have been missed; after that, each pod event reports its job, and a deleted node reports the
        jobs with pods on it (statuses() says LOST while those pods remain). A dropped connection
        resumes from the last resourceVersion; 410 Gone (an expired resourceVersion, as an HTTP status
        or as an ERROR event) relists. ``on_change`` is called from one thread at a time; its
        exceptions are logged, never fatal.
        """
        index = _WatchIndex(on_change, stop)
        watches = _OpenWatches()
        stopper = threading.Thread(
            target=watches.stop_when, args=(stop,), name="k8s-watch-stopper", daemon=True
        )
        stopper.start()
        node_loop = threading.Thread(
            target=self._list_and_watch,
            args=("list_node", None, index.nodes_listed, index.node_event, stop, watches),
            name="k8s-watch-nodes",
            daemon=True,
        )
        node_loop.start()
        try:
            self._list_and_watch(
                "list_pod_for_all_namespaces",
                MANAGED_SELECTOR,
                index.pods_listed,
                index.pod_event,
                stop,
                watches,
            )
        finally:
            stop.set()  # only ever needed if the pod loop died of something unexpected: end the node loop too
            node_loop.join()
            watches.finished.set()
            stopper.join()

    def _list_and_watch(
        self,
        list_method: str,
        label_selector: str | None,
        on_list: Callable[[list[dict]], None],
        on_event: Callable[[str, dict], None],
        stop: threading.Event,
        watches: "_OpenWatches",
    ) -> None:
        resource_version: str | None = None
        failures = 0
        selector = {"label_selector": label_selector} if label_selector else {}
        while not stop.is_set():
            try:
                if resource_version is None:
                    listing = self._json(list_method, **selector)
                    resource_version = listing["metadata"]["resourceVersion"]
                    on_list(listing["items"])
                stream = kubernetes.watch.Watch()
                with watches.open(stream):
                    if stop.is_set():
                        break
                    self._bucket.acquire()
                    delivered = False
                    for event in stream.stream(
                        getattr(self._core, list_method),
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=self._watch_timeout_seconds,  # also turns off Watch's own retries
                        _request_timeout=(self._request_timeout[0], self._watch_timeout_seconds + 30),
                        **selector,
                    ):
                        failures, delivered = 0, True
                        raw = event["raw_object"]
                        resource_version = (raw.get("metadata") or {}).get(
                            "resourceVersion"
                        ) or resource_version
                        if event["type"] != "BOOKMARK":
                            on_event(event["type"], raw)
                        if stop.is_set():
                            break
                # The server ended the watch (its timeout): resume at once, unless it keeps ending empty.
                failures = 0 if delivered else failures + 1
            except ApiException as error:
                failures += 1
                if error.status == 410:
                    logger.info("%s: resourceVersion %s expired; relisting", list_method, resource_version)
                    resource_version = None
                else:
                    logger.warning("%s watch failed (%s %s)", list_method, error.status, error.reason)
            except Exception as error:  # noqa: BLE001 - a dropped connection or a refused one
                if stop.is_set():
                    break
                failures += 1
                logger.info("%s watch ended (%s: %s); resuming", list_method, type(error).__name__, error)
            # The first failure after a good stream retries at once; repeated ones back off up to 30 s.
            if failures > 1:
                stop.wait(min(30.0, 0.5 * 2 ** (failures - 2)))

    # --- API calls --------------------------------------------------------------------------------

    def _raw(self, method: str, *args, **kwargs) -> bytes:
        return self._raw_on(self._core, method, *args, **kwargs)

    def _raw_on(self, api, method: str, *args, **kwargs) -> bytes:
        self._bucket.acquire()
        response = getattr(api, method)(
            *args, _preload_content=False, _request_timeout=self._request_timeout, **kwargs
        )
        try:
            return response.data
        finally:
            response.release_conn()

    def _json(self, method: str, *args, **kwargs) -> dict:
        return json.loads(self._raw(method, *args, **kwargs))

    def _create(self, method: str, body: dict, **kwargs) -> bool:
        """Create ``body``; False when it already exists (409), which callers treat as done before."""
        return self._create_on(self._core, method, body, **kwargs)

    def _create_on(self, api, method: str, body: dict, **kwargs) -> bool:
        try:
            self._raw_on(api, method, body=body, **kwargs)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    def _delete(self, method: str, name: str, namespace: str) -> None:
        try:
            self._raw(method, name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise

    def _check_existing_pod(self, namespace: str, wanted: dict) -> None:
        """A pod of this name exists: fine if it is this job's, on the same node, and still live."""
        name = wanted["metadata"]["name"]
        existing = self._json("read_namespaced_pod", name, namespace)
        if (
            existing["metadata"].get("labels", {}).get(manifests.JOB_LABEL)
            != wanted["metadata"]["labels"][manifests.JOB_LABEL]
        ):
            raise BindError(f"pod {namespace}/{name} already exists and belongs to another job")
        problem = ""
        if manifests.pinned_node(existing) != manifests.pinned_node(wanted):
            problem = f"is pinned to node {manifests.pinned_node(existing)!r} from an earlier run"
        elif existing["metadata"].get("deletionTimestamp"):
            problem = "is still being deleted from an earlier run"
        elif _phase(existing) in ("Succeeded", "Failed"):
            problem = f"has already finished ({_phase(existing)}) in an earlier run"
        if problem:
            raise LeftoverFromEarlierRun(
                f"pod {namespace}/{name} already exists and {problem}; removed, retry later"
            )

    def _create_secret(self, namespace: str, secret: dict) -> None:
        """Create the session's Secret; one left by an earlier bind of the job (409) is replaced, since the
        token it holds may not be the one the session has now. gpugrant never reads a Secret back."""
        if not self._create("create_namespaced_secret", secret, namespace=namespace):
            self._delete("delete_namespaced_secret", secret["metadata"]["name"], namespace)
            if not self._create("create_namespaced_secret", secret, namespace=namespace):
                raise LeftoverFromEarlierRun(
                    f"secret {namespace}/{secret['metadata']['name']} is still being deleted; retry later"
                )

    def _delete_created(self, namespace: str, job: manifests.JobManifests) -> None:
        for pod in job.pods:
            self._delete_quietly("delete_namespaced_pod", pod["metadata"]["name"], namespace)
        if job.secret is not None:
            self._delete_quietly("delete_namespaced_secret", job.secret["metadata"]["name"], namespace)
        if job.service is not None:
            self._delete_quietly("delete_namespaced_service", job.service["metadata"]["name"], namespace)

    def _delete_quietly(self, method: str, name: str, namespace: str) -> None:
        try:
            self._delete(method, name, namespace)
        except Exception:  # noqa: BLE001 - the sweep's stop retries whatever cleanup leaves
            logger.exception("cleanup after a failed bind: %s %s/%s failed", method, namespace, name)


class _WatchIndex:
    """Which job each watched pod belongs to and where it runs, to turn pod and node events into job ids."""

    def __init__(self, on_change: Callable[[set[str]], None], stop: threading.Event):
        self._on_change = on_change
        self._stop = stop
        self._pods: dict[tuple[str, str], tuple[str, str]] = {}  # (namespace, pod) → (job id, node)
        self._nodes: set[str] = set()
        self._lock = threading.Lock()  # the index, shared by the pod and node loops
        self._notify_lock = threading.Lock()  # one on_change at a time

    def pods_listed(self, items: list[dict]) -> None:
        with self._lock:
            changed = self._jobs()
            self._pods = {_key(pod): (_job_of(pod), manifests.pinned_node(pod)) for pod in items}
            changed |= self._jobs()
        self._notify(changed)

    def pod_event(self, kind: str, pod: dict) -> None:
        with self._lock:
            if kind == "DELETED":
                self._pods.pop(_key(pod), None)
            else:
                self._pods[_key(pod)] = (_job_of(pod), manifests.pinned_node(pod))
        self._notify({_job_of(pod)})

    def nodes_listed(self, items: list[dict]) -> None:
        names = {node["metadata"]["name"] for node in items}
        with self._lock:
            vanished, self._nodes = self._nodes - names, names
            changed = self._jobs(on=vanished)
        self._notify(changed)

    def node_event(self, kind: str, node: dict) -> None:
        name = node["metadata"]["name"]
        with self._lock:
            if kind != "DELETED":
                self._nodes.add(name)
                return
            self._nodes.discard(name)
            changed = self._jobs(on={name})
        self._notify(changed)

    def _jobs(self, on: set[str] | None = None) -> set[str]:
        return {job_id for job_id, node in self._pods.values() if on is None or node in on}

    def _notify(self, job_ids: Iterable[str]) -> None:
        job_ids = {job_id for job_id in job_ids if job_id}
        if not job_ids or self._stop.is_set():
            return
        with self._notify_lock:
            try:
                self._on_change(job_ids)
            except Exception:  # noqa: BLE001 - one bad callback must not end the watch
                logger.exception("on_change(%s) failed", sorted(job_ids))


class _OpenWatches:
    """The watch streams open now, so that setting ``stop`` can close their sockets promptly."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open: set = set()
        self.finished = threading.Event()

    def open(self, stream) -> "_OpenWatches._Registration":
        return self._Registration(self, stream)

    def stop_when(self, stop: threading.Event) -> None:
        stop.wait()
        # A stream may be opening while we close the others: keep closing until the loops have ended.
        while not self.finished.is_set():
            with self._lock:
                streams = list(self._open)
            for stream in streams:
                stream.stop()
            self.finished.wait(0.05)

    class _Registration:
        def __init__(self, owner: "_OpenWatches", stream):
            self.owner, self.stream = owner, stream

        def __enter__(self):
            with self.owner._lock:
                self.owner._open.add(self.stream)
            return self.stream

        def __exit__(self, *exc_info):
            with self.owner._lock:
                self.owner._open.discard(self.stream)
            return False


# --- reading what the API returns -------------------------------------------------------------------


def _key(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _job_of(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(manifests.JOB_LABEL, "")


def _is_ours(pod: dict) -> bool:
    return (pod["metadata"].get("labels") or {}).get(manifests.MANAGED_BY_LABEL) == manifests.MANAGER


def _is_session(obj: dict) -> bool:
    return (obj["metadata"].get("labels") or {}).get(manifests.SESSION_LABEL) == "true"


def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase", "Pending")


def _gpu_quantity(value) -> int:
    """An extended resource's quantity is a whole number ("8"); anything else counts as none."""
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _container_gpus(container: dict) -> int:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    return _gpu_quantity(limits.get(manifests.GPU_RESOURCE, requests.get(manifests.GPU_RESOURCE)))


def _pod_gpus(pod: dict) -> int:
    """GPUs a pod holds: its containers and sidecars together, or its largest init container if more."""
    spec = pod.get("spec") or {}
    init = spec.get("initContainers") or []
    sidecars = [container for container in init if container.get("restartPolicy") == "Always"]
    plain_init = [container for container in init if container.get("restartPolicy") != "Always"]
    running = sum(_container_gpus(container) for container in [*(spec.get("containers") or []), *sidecars])
    return max([running, *(_container_gpus(container) for container in plain_init)])


def _foreign_indices(gpu_count: int, ours: set[int], foreign_count: int) -> tuple[int, ...]:
    """Kubernetes does not say which devices others hold: report the highest indices gpugrant's pods do not use."""
    free = [index for index in range(gpu_count - 1, -1, -1) if index not in ours]
    return tuple(sorted(free[: min(foreign_count, len(free))]))


def _unschedulable_reason(node: dict) -> str:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    name = node["metadata"]["name"]
    if spec.get("unschedulable"):
        return "cordoned"
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") != "True":
        detail = f" ({ready.get('reason', '')}: {ready.get('message', '')})" if ready else ""
        return f"not ready{detail}"
    for taint in spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and taint.get("key") != manifests.GPU_RESOURCE:
            value = f"={taint['value']}" if taint.get("value") else ""
            return f"tainted {taint.get('key')}{value}:{taint.get('effect')}"
    hostname = (node["metadata"].get("labels") or {}).get(manifests.HOSTNAME_LABEL)
    if hostname != name:
        return f"its {manifests.HOSTNAME_LABEL} label ({hostname!r}) differs from its name; pods are pinned by that label"
    return ""


def _terminated(pod: dict) -> dict:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated and (container.get("name") == manifests.CONTAINER_NAME or terminated.get("exitCode")):
            return terminated
    return {}


def _waiting_reason(pod: dict) -> str:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"] + (f": {waiting['message']}" if waiting.get("message") else "")
    return ""


def _world_size(pod: dict) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for variable in container.get("env") or []:
            if variable.get("name") == "WORLD_SIZE":
                return _gpu_quantity(variable.get("value"))
    return 1


def _job_status(job_id: str, pods: list[dict], existing_nodes: set[str]) -> JobStatus:
    """One job's phase from its pods, in this order of precedence (docs/kubernetes.md)."""
    pods = sorted(
        pods, key=lambda pod: int((pod["metadata"].get("labels") or {}).get(manifests.RANK_LABEL, 0))
    )
    failed = [pod for pod in pods if _phase(pod) == "Failed"]
    for pod in failed:
        if (pod.get("status") or {}).get("reason") == "DeadlineExceeded":
            return JobStatus(
                job_id, Phase.TIMED_OUT, f"pod {pod['metadata']['name']} ran past its activeDeadlineSeconds"
            )
    for pod in failed:
        status = pod.get("status") or {}
        if (status.get("message") or "").startswith(KUBELET_REJECTED):
            # The kubelet refused it at admission (e.g. OutOfnvidia.com/gpu: someone else's pod took the
            # GPUs after gpugrant's inventory): no container ran, the job never started.
            return JobStatus(
                job_id,
                Phase.LOST,
                f"node {manifests.pinned_node(pod)!r} refused pod {pod['metadata']['name']}: "
                f"{status.get('reason') or 'Failed'}: {status['message']}"[:500],
            )
    if failed:
        pod = failed[0]
        terminated = _terminated(pod)
        status = pod.get("status") or {}
        cause = terminated.get("reason") or status.get("reason") or "Error"
        message = terminated.get("message") or status.get("message") or ""
        reason = f"pod {pod['metadata']['name']}: {cause}" + (f": {message}" if message else "")
        return JobStatus(job_id, Phase.FAILED, reason[:500], terminated.get("exitCode"))
    for pod in pods:
        waiting = _waiting_reason(pod)
        if waiting.split(":")[0] in PERMANENT_WAITING_REASONS:
            return JobStatus(job_id, Phase.FAILED, f"pod {pod['metadata']['name']}: {waiting}"[:500])
    expected = max(_world_size(pod) for pod in pods)
    if len(pods) < expected:
        present = sorted(int(pod["metadata"]["labels"][manifests.RANK_LABEL]) for pod in pods)
        if all(_phase(pod) == "Pending" and not pod["metadata"].get("deletionTimestamp") for pod in pods):
            # bind() may still be creating the later ranks; nothing has started, so nothing is lost yet.
            return JobStatus(job_id, Phase.PENDING, f"only ranks {present} of {expected} pods exist so far")
        return JobStatus(job_id, Phase.LOST, f"only ranks {present} of {expected} pods exist")
    if all(_phase(pod) == "Succeeded" for pod in pods):
        return JobStatus(job_id, Phase.SUCCEEDED, "", 0)
    for pod in pods:
        if _phase(pod) == "Succeeded":
            continue
        node = manifests.pinned_node(pod)
        if node not in existing_nodes:
            return JobStatus(
                job_id, Phase.LOST, f"node {node!r} of pod {pod['metadata']['name']} no longer exists"
            )
    deleting = [pod for pod in pods if pod["metadata"].get("deletionTimestamp")]
    if deleting:
        return JobStatus(job_id, Phase.STOPPED, f"pod {deleting[0]['metadata']['name']} is being deleted")
    if any(_phase(pod) == "Running" for pod in pods):
        return JobStatus(job_id, Phase.RUNNING)
    waiting = next(
        (f"pod {pod['metadata']['name']}: {_waiting_reason(pod)}" for pod in pods if _waiting_reason(pod)), ""
    )
    return JobStatus(job_id, Phase.PENDING, waiting[:500])


def _failure(action: str, subject: str, error: Exception) -> str:
    """The API server's own words (its Status ``message``) with the HTTP status, or the transport error."""
    if not isinstance(error, ApiException):
        return f"{action} {subject}: {type(error).__name__}: {error}"[:500]
    message = error.reason or ""
    try:
        body = json.loads(error.body) if error.body else {}
        message = body.get("message") or message
    except (TypeError, ValueError, AttributeError):
        pass
    return f"{action} {subject}: {error.status} {message}"[:500]
