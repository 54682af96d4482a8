"""The PodResources client against a real gRPC server on a unix socket, and the wire format by hand."""

import grpc
import pytest

from tests.workers.agent.kubelet import FakeKubelet
from workers.podresources import (
    ContainerDevices,
    ContainerResources,
    PodResources,
    PodResourcesClient,
    PodResourcesError,
    ProtobufError,
    _encode_varint,
    _len_field,
    decode_list_response,
    encode_list_response,
)

TRAINER = PodResources(
    "job-5f0c2e9a1b3d-0",
    "gpugrant-org",
    (
        ContainerResources(
            "job",
            (
                ContainerDevices("nvidia.com/gpu", ("GPU-aaaa", "GPU-bbbb")),
                ContainerDevices("example.com/nic", ("nic-1",)),
            ),
        ),
        ContainerResources("sidecar", ()),
    ),
)
OTHER = PodResources(
    "web-0", "default", (ContainerResources("web", (ContainerDevices("nvidia.com/gpu", ("GPU-cccc",)),)),)
)


def test_it_lists_pods_and_their_devices_from_a_real_grpc_server():
    with FakeKubelet([[TRAINER, OTHER]]) as kubelet:
        client = PodResourcesClient(kubelet.socket_path, timeout=5)
        try:
            pods = client.list()
        finally:
            client.close()
    assert pods == [TRAINER, OTHER]
    assert pods[0].device_ids("nvidia.com/gpu") == {"GPU-aaaa", "GPU-bbbb"}
    assert pods[1].device_ids("example.com/nic") == set()
    assert kubelet.calls == 1


def test_it_answers_an_empty_list_and_errors_then_recovers():
    with FakeKubelet([[], grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, [TRAINER]]) as kubelet:
        client = PodResourcesClient(kubelet.socket_path, timeout=5)
        try:
            assert client.list() == []
            with pytest.raises(PodResourcesError, match="UNAVAILABLE"):
                client.list()
            with pytest.raises(PodResourcesError, match="INTERNAL"):
                client.list()
            assert client.list() == [TRAINER]
        finally:
            client.close()


def test_undecodable_answers_are_errors_not_crashes():
    with FakeKubelet([b"\x0a\x05ab"]) as kubelet:  # pod_resources claims 5 bytes, has 2
        client = PodResourcesClient(kubelet.socket_path, timeout=5)
        try:
            with pytest.raises(PodResourcesError):
                client.list()
        finally:
            client.close()


def test_no_kubelet_is_an_error(tmp_path):
    client = PodResourcesClient(str(tmp_path / "absent.sock"), timeout=1)
    try:
        with pytest.raises(PodResourcesError):
            client.list()
    finally:
        client.close()


def test_the_decoder_skips_fields_it_does_not_know():
    # ContainerResources.cpu_ids (3, packed int64), a topology (ContainerDevices field 3) and an unknown fixed64.
    devices = _len_field(1, b"nvidia.com/gpu") + _len_field(2, b"GPU-1") + _len_field(3, b"\x0a\x02\x08\x01")
    container = _len_field(1, b"c") + _len_field(2, devices) + _len_field(3, b"\x01\x02\x03")
    pod = _len_field(1, b"job-000000000000-0") + _len_field(2, b"ns") + _len_field(3, container)
    pod += _encode_varint(9 << 3 | 1) + b"\x00" * 8 + _encode_varint(10 << 3 | 0) + _encode_varint(300)
    decoded = decode_list_response(_len_field(1, pod))
    assert decoded == [
        PodResources(
            "job-000000000000-0",
            "ns",
            (ContainerResources("c", (ContainerDevices("nvidia.com/gpu", ("GPU-1",)),)),),
        )
    ]


def test_encoding_round_trips_and_rejects_garbage():
    assert decode_list_response(encode_list_response([TRAINER, OTHER])) == [TRAINER, OTHER]
    assert decode_list_response(b"") == []
    for garbage in (b"\x0a", b"\x0a\x05ab", b"\x0b", b"\xff" * 11, b"\x00"):
        with pytest.raises(ProtobufError):
            decode_list_response(garbage)
