"""KubernetesBackend.watch() against the real test control plane: list, then watch; resume a watch the server
ended from the last resourceVersion; relist when that resourceVersion has expired (410 Gone).

gpugrant binds its pods to their nodes and kwok moves them through their phases
(tests/cluster/kwok-stages.yaml). Every wait is on a real condition (a report, a request in the audit log, a
pod's phase) with a bounded timeout.
Faults the real server cannot be made to produce are in test_kubernetes_watch_standin.py.
"""

import logging
import queue
from contextlib import contextmanager

import pytest

from scheduler.backends import k8s_manifests as manifests
from scheduler.backends.base import Phase
from scheduler.backends.kubernetes import KubernetesBackend
from tests.cluster.controlplane import gpu_node
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_watching import (
    WatchGate,
    calls,
    next_report,
    pod_relists,
    query,
    reports_until,
    restart_apiserver,
    wait_watching,
    watch_ended,
    watching,
)

pytestmark = pytest.mark.cluster


def _backend(cluster, watch_timeout_seconds: int = 60) -> KubernetesBackend:
    return KubernetesBackend(
        api_client=cluster.api_client(), qps=0, burst=10, watch_timeout_seconds=watch_timeout_seconds
    )


def _pod_path(cluster, job_id: str, rank: int = 0) -> str:
    namespace = manifests.namespace_name(b.ORGANISATION_ID, cluster.prefix)
    return f"/api/v1/namespaces/{namespace}/pods/{manifests.pod_name(job_id, rank)}"


def _exit(cluster, job_id: str, code: int, rank: int = 0) -> int:
    """Tell kwok the pod's containers exit with ``code``; returns the resourceVersion of that change."""
    namespace = manifests.namespace_name(b.ORGANISATION_ID, cluster.prefix)
    pod = cluster.annotate_pod(
        namespace, manifests.pod_name(job_id, rank), {"gpugrant.test/exit-code": str(code)}
    )
    return int(pod["metadata"]["resourceVersion"])


def _one_job_per_node(cluster, backend, other: str) -> list[dict]:
    """Job JOB_ID on gpu-a and ``other`` on gpu-b, both Running; returns their pods."""
    backend.bind(b.spec([("gpu-a", (0, 1))]))
    backend.bind(b.spec([("gpu-b", (0, 1))], job_id=other))
    return _all_running(cluster, 2)


def _all_running(cluster, count: int) -> list[dict]:
    """Until kwok has started ``count`` of gpugrant's pods: after that nothing changes them by itself."""
    return cluster.wait_for(
        lambda: (
            len(pods := [p for p in cluster.pods() if p["status"].get("phase") == "Running"]) == count
            and pods
        ),
        f"{count} gpugrant pods Running",
    )


def _gone(cluster, path: str) -> None:
    cluster.wait_for(lambda: cluster.get(path) is None, f"{path} gone")


@contextmanager
def watching_phases(backend):
    """Yields the reports as {job id: its JobStatus, None if it has no pods}, read as each report came, as the
    reconciler reads them."""
    reports: queue.Queue = queue.Queue()
    with watching(backend, lambda job_ids: reports.put(_statuses(backend, job_ids))):
        yield reports


def _statuses(backend, job_ids) -> dict:
    found = {status.job_id: status for status in backend.statuses(sorted(job_ids))}
    return {job_id: found.get(job_id) for job_id in job_ids}


def _reported(reports: queue.Queue, job_id: str, phase: Phase | None) -> list[dict]:
    """The reports until one finds ``job_id`` in ``phase`` (None: without pods)."""
    return reports_until(
        reports, lambda statuses: job_id in statuses and getattr(statuses[job_id], "phase", None) == phase
    )


# --- list, then one report per change ------------------------------------------------------------------


def test_it_reports_every_job_after_listing_then_each_job_whose_pods_change(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    other = b.other_job_id()
    listed = max(
        int(pod["metadata"]["resourceVersion"]) for pod in _one_job_per_node(cluster, backend, other)
    )
    offset = cluster.audit_offset()

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID, other}
        exited = _exit(cluster, other, 0)
        cluster.wait_for(
            lambda: cluster.get(_pod_path(cluster, other))["status"]["phase"] == "Succeeded", "its exit"
        )
        backend.stop(b.JOB_ID, "cancelled")
        # The exit reports only its job (the annotation, then kwok's status), the stop only its own.
        *before, last = reports_until(changes, lambda job_ids: b.JOB_ID in job_ids)
        assert before and all(job_ids == {other} for job_ids in before) and last == {b.JOB_ID}

    watch = calls(cluster, offset, "watch", "pods")[0]
    assert watch["objectRef"].get("namespace") is None  # every namespace, gpugrant's pods only
    assert query(watch)["labelSelector"] == "app.kubernetes.io/managed-by=gpugrant"
    assert listed <= int(query(watch)["resourceVersion"]) < exited  # from the list's resourceVersion


def test_it_reports_a_pod_that_kwok_starts_then_ends(cluster):
    cluster.add_gpu_nodes("gpu-a")
    backend = _backend(cluster)
    backend.bind(b.spec())

    with watching_phases(backend) as reports:
        _reported(reports, b.JOB_ID, Phase.RUNNING)  # kwok starts it on its node
        _exit(cluster, b.JOB_ID, 0)
        status = _reported(reports, b.JOB_ID, Phase.SUCCEEDED)[-1][b.JOB_ID]

    assert status.exit_code == 0


def test_a_gang_with_one_failed_rank_is_reported_failed_while_the_other_rank_still_runs(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    _all_running(cluster, 2)

    with watching_phases(backend) as reports:
        _reported(reports, b.JOB_ID, Phase.RUNNING)
        _exit(cluster, b.JOB_ID, 3, rank=1)
        status = _reported(reports, b.JOB_ID, Phase.FAILED)[-1][b.JOB_ID]

    assert status.exit_code == 3 and manifests.pod_name(b.JOB_ID, 1) in status.reason
    assert cluster.get(_pod_path(cluster, b.JOB_ID, 0))["status"]["phase"] == "Running"


def test_pods_past_their_active_deadline_are_reported_timed_out(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))], max_runtime_seconds=2))

    with watching_phases(backend) as reports:
        status = _reported(reports, b.JOB_ID, Phase.TIMED_OUT)[-1][b.JOB_ID]  # kwok: DeadlineExceeded

    assert "activeDeadlineSeconds" in status.reason
    paths = [_pod_path(cluster, b.JOB_ID, rank) for rank in (0, 1)]
    cluster.wait_for(
        lambda: all(cluster.get(path)["status"].get("reason") == "DeadlineExceeded" for path in paths),
        "both ranks failed as DeadlineExceeded",
    )


# --- the watch ends, or its resourceVersion expires ------------------------------------------------------


def test_a_watch_the_server_ends_resumes_from_the_last_resource_version_without_relisting(cluster):
    cluster.add_gpu_nodes("gpu-a")
    backend = _backend(cluster, watch_timeout_seconds=2)  # the server ends each watch after 2 s
    gate = WatchGate(backend)
    backend.bind(b.spec())
    _all_running(cluster, 1)
    offset = cluster.audit_offset()

    with watching_phases(backend) as reports:
        _reported(reports, b.JOB_ID, Phase.RUNNING)
        with gate.closed("pods"):  # between two watches: the change is made while none is open
            before = len(calls(cluster, offset, "watch", "pods"))
            _exit(cluster, b.JOB_ID, 0)
            changed = cluster.wait_for(
                lambda: (
                    (pod := cluster.get(_pod_path(cluster, b.JOB_ID)))["status"]["phase"] == "Succeeded"
                    and pod
                ),
                "the pod Succeeded",
            )
        _reported(reports, b.JOB_ID, Phase.SUCCEEDED)  # not lost: the resumed watch replays it

    resumed = calls(cluster, offset, "watch", "pods")[before]  # the one held at the gate
    assert int(query(resumed)["resourceVersion"]) < int(changed["metadata"]["resourceVersion"])
    assert len(pod_relists(cluster, offset)) == 1


def test_an_expired_resource_version_relists_and_reports_every_job_the_vanished_one_too(cluster, caplog):
    caplog.set_level(logging.INFO, logger="scheduler.backends.kubernetes")
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster, watch_timeout_seconds=2)
    gate = WatchGate(backend)
    other = b.other_job_id()
    _one_job_per_node(cluster, backend, other)
    offset = cluster.audit_offset()

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID, other}
        with gate.closed("pods", "nodes"):
            # A change the backend is away for, then its history gone: etcd compacted, and the API server's
            # watch cache (which still serves history etcd compacted away) restarted from etcd's revision.
            cluster.request("DELETE", _pod_path(cluster, other))
            _gone(cluster, _pod_path(cluster, other))
            compacted = cluster.etcd_compact()
            restart_apiserver(cluster)
            restarted = cluster.audit_offset()
        assert next_report(changes) == {b.JOB_ID, other}  # after the relist, every job: the vanished one too
        _exit(cluster, b.JOB_ID, 0)  # and it watches on from the new list (kwok is back too)
        reports_until(changes, lambda job_ids: job_ids == {b.JOB_ID})

    assert "expired; relisting" in caplog.text  # the real server answers 200 with an ERROR event, code 410
    expired, *after = calls(cluster, restarted, "watch", "pods")
    assert int(query(expired)["resourceVersion"]) < compacted
    assert after and int(query(after[0])["resourceVersion"]) >= compacted
    assert len(pod_relists(cluster, offset)) == 2


# --- nodes -------------------------------------------------------------------------------------------------


def test_a_deleted_node_reports_the_jobs_on_it_which_run_on_when_it_returns(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    on_b = b.other_job_id()
    _one_job_per_node(cluster, backend, on_b)
    offset = cluster.audit_offset()

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID, on_b}
        wait_watching(cluster, offset, "nodes")  # listed: the backend knows the node before it goes
        cluster.request("DELETE", "/api/v1/nodes/gpu-b")
        assert next_report(changes) == {on_b}
        assert backend.statuses([on_b])[0].phase == Phase.LOST

        cluster.create_node(gpu_node("gpu-b"))
        cluster.wait_nodes_ready(["gpu-b"])
    # PodGC removes a missing node's pods only after 40 s: back sooner, its kwok "kubelet" carries on.
    assert backend.statuses([on_b])[0].phase == Phase.RUNNING


def test_a_node_that_vanished_between_node_watches_is_found_on_relist(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster, watch_timeout_seconds=2)
    gate = WatchGate(backend)
    on_b = b.other_job_id()
    _one_job_per_node(cluster, backend, on_b)
    offset = cluster.audit_offset()

    with watching(backend) as changes:
        assert next_report(changes) == {b.JOB_ID, on_b}
        with gate.closed("nodes"):
            cluster.request("DELETE", "/api/v1/nodes/gpu-b")
            _gone(cluster, "/api/v1/nodes/gpu-b")
            cluster.etcd_compact()
            restart_apiserver(cluster)
        # The pod relist reports both jobs; only the node relist reports the job of the vanished node alone.
        reports_until(changes, lambda job_ids: job_ids == {on_b})

    assert len(calls(cluster, offset, "list", "nodes")) == 2
    assert backend.statuses([on_b])[0].phase == Phase.LOST


# --- pods removed by someone else ------------------------------------------------------------------------


def test_a_gang_rank_deleted_behind_gpugrants_back_is_reported_and_the_job_lost(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    _all_running(cluster, 2)

    with watching_phases(backend) as reports:
        _reported(reports, b.JOB_ID, Phase.RUNNING)
        cluster.request("DELETE", _pod_path(cluster, b.JOB_ID, rank=1))  # an admin's kubectl delete pod
        status = _reported(reports, b.JOB_ID, Phase.LOST)[-1][b.JOB_ID]

    assert status.reason == "only ranks [0] of 2 pods exist"


def test_a_forced_drain_evicts_the_pods_and_the_watch_reports_their_job(cluster):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    on_b = b.other_job_id()
    _one_job_per_node(cluster, backend, on_b)
    offset = cluster.audit_offset()

    with watching_phases(backend) as reports:
        assert set(next_report(reports)) == {b.JOB_ID, on_b}
        # --force: gpugrant's pods have no controller, which a plain drain refuses (test_node_faults.py).
        cluster.kubectl("drain", "gpu-a", "--ignore-daemonsets", "--delete-emptydir-data", "--force")
        seen = _reported(reports, b.JOB_ID, None)  # evicted, then gone: no pods left

    assert all(set(statuses) == {b.JOB_ID} for statuses in seen)  # the job on the other node is untouched
    (eviction,) = calls(cluster, offset, "create", "pods", user="gpugrant-test-admin")
    assert eviction["objectRef"]["subresource"] == "eviction"
    assert backend.statuses([on_b])[0].phase == Phase.RUNNING


# --- the watch itself ----------------------------------------------------------------------------------


def test_a_failing_callback_does_not_end_the_watch(cluster):
    cluster.add_gpu_nodes("gpu-a")
    backend = _backend(cluster)
    backend.bind(b.spec())
    _all_running(cluster, 1)
    calls_made = []

    def explode_once(job_ids):
        calls_made.append(job_ids)
        if len(calls_made) == 1:
            raise RuntimeError("reconcile failed")

    with watching(backend, explode_once) as changes:
        assert next_report(changes) == {b.JOB_ID}
        _exit(cluster, b.JOB_ID, 0)
        assert next_report(changes) == {b.JOB_ID}

    assert len(calls_made) >= 2


def test_setting_stop_closes_the_open_watches(cluster):
    backend = _backend(cluster, watch_timeout_seconds=300)  # only closing them can end them in time
    offset = cluster.audit_offset()

    with watching(backend):
        wait_watching(cluster, offset, "pods", "nodes")

    opened = calls(cluster, offset, "watch", "pods") + calls(cluster, offset, "watch", "nodes")
    cluster.wait_for(
        lambda: all(watch_ended(cluster, offset, watch) for watch in opened), "the server to see them closed"
    )
