"""Kubernetes attribution: pods from the kubelet's PodResources API, their jobs from the portal."""

import grpc

from tests.workers.agent.fake_portal import FakePortal
from tests.workers.agent.kubelet import FakeKubelet
from workers.assignments import Binding, PodResourcesAssignments
from workers.metering.device import GpuInfo
from workers.podresources import ContainerDevices, ContainerResources, PodResources, PodResourcesClient
from workers.portal_client import PortalClient

JOB = "5f0c2e9a-1b3d-4c5e-8f70-112233445566"
OTHER_JOB = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
GPUS = [
    GpuInfo("GPU-aaaa", 0, "NVIDIA H100"),
    GpuInfo("GPU-bbbb", 1, "NVIDIA H100"),
    GpuInfo("MIG-cccc", 2, "NVIDIA H100", mig_fraction=0.25),
]


def pod(
    name: str, *device_ids: str, resource: str = "nvidia.com/gpu", namespace: str = "gpugrant-org"
) -> PodResources:
    return PodResources(
        name, namespace, (ContainerResources("job", (ContainerDevices(resource, device_ids),)),)
    )


def source_for(kubelet: FakeKubelet, portal: FakePortal, **options) -> PodResourcesAssignments:
    return PodResourcesAssignments(
        PodResourcesClient(kubelet.socket_path, timeout=5),
        PortalClient(portal.url, portal.key, retries=0),
        gpus=GPUS,
        **options,
    )


def test_bound_at_is_first_seen_and_released_at_first_seen_gone():
    steps = [
        [
            pod("job-5f0c2e9a1b3d-0", "GPU-aaaa"),
            pod("web-0", "GPU-bbbb"),
            pod("job-ffffffffffff-0", "GPU-bbbb"),
        ],
        [pod("job-5f0c2e9a1b3d-0", "GPU-aaaa"), pod("job-5f0c2e9a1b3d-1", "1")],  # index-named device
        [pod("job-5f0c2e9a1b3d-1", "1")],
        [],
    ]
    with FakePortal() as portal, FakeKubelet(steps) as kubelet:
        portal.jobs = [{"id": JOB, "state": "running", "pods": [], "finished_at": None}]
        source = source_for(kubelet, portal)
        assert source.bindings(100.0) == [Binding(JOB, "GPU-aaaa", 0, 100.0, None)]
        assert source.bindings(110.0) == [
            Binding(JOB, "GPU-aaaa", 0, 100.0, None),
            Binding(JOB, "GPU-bbbb", 1, 110.0, None),
        ]
        assert source.bindings(120.0) == [
            Binding(JOB, "GPU-aaaa", 0, 100.0, 120.0),
            Binding(JOB, "GPU-bbbb", 1, 110.0, None),
        ]
        portal.jobs[0]["finished_at"] = "1970-01-01T00:02:05+00:00"  # 125 s
        assert source.bindings(130.0) == [
            Binding(JOB, "GPU-aaaa", 0, 100.0, 120.0),
            Binding(JOB, "GPU-bbbb", 1, 110.0, 125.0),
        ]
        assert source.bindings(130.0 + 3601) == []  # released bindings are kept an hour, then forgotten


def test_pods_of_unknown_jobs_wait_for_the_portal_keeping_their_first_seen_time():
    with (
        FakePortal() as portal,
        FakeKubelet([[pod("job-0a1b2c3d4e5f-0", "MIG-cccc", resource="nvidia.com/mig-1g.20gb")]]) as kubelet,
    ):
        source = source_for(kubelet, portal, resource_names=["nvidia.com/gpu", "nvidia.com/mig-1g.20gb"])
        assert source.bindings(100.0) == []
        portal.down = True
        assert source.bindings(110.0) == []
        portal.down = False
        portal.jobs = [{"id": OTHER_JOB, "state": "running", "pods": [], "finished_at": None}]
        assert source.bindings(120.0) == [Binding(OTHER_JOB, "MIG-cccc", 2, 100.0, None, mig_fraction=0.25)]


def test_a_kubelet_error_keeps_the_last_bindings_without_releasing_them():
    with (
        FakePortal() as portal,
        FakeKubelet([[pod("job-5f0c2e9a1b3d-0", "GPU-aaaa")], grpc.StatusCode.UNAVAILABLE, []]) as kubelet,
    ):
        portal.jobs = [{"id": JOB, "state": "running", "pods": [], "finished_at": None}]
        source = source_for(kubelet, portal)
        first = source.bindings(100.0)
        assert source.bindings(110.0) == first == [Binding(JOB, "GPU-aaaa", 0, 100.0, None)]
        assert source.bindings(120.0) == [Binding(JOB, "GPU-aaaa", 0, 100.0, 120.0)]


def test_restored_bindings_keep_their_bound_at_and_end_when_their_pod_is_gone():
    with FakePortal() as portal, FakeKubelet([[pod("job-5f0c2e9a1b3d-0", "GPU-aaaa")]]) as kubelet:
        portal.jobs = [
            {"id": JOB, "state": "running", "pods": [], "finished_at": None},
            {"id": OTHER_JOB, "state": "succeeded", "pods": [], "finished_at": "1970-01-01T00:01:30Z"},
        ]
        source = source_for(kubelet, portal)
        source.restore([(JOB, "GPU-aaaa", 50.0), (OTHER_JOB, "GPU-bbbb", 60.0)])
        assert sorted(source.bindings(100.0), key=lambda b: b.gpu_uuid) == [
            Binding(JOB, "GPU-aaaa", 0, 50.0, None),
            Binding(
                OTHER_JOB, "GPU-bbbb", 1, 60.0, 90.0
            ),  # ended while the agent was away: the portal says when
        ]
