"""A minimal client of the kubelet PodResources API v1: which devices each pod's containers hold.

The kubelet serves ``v1.PodResourcesLister`` over gRPC on a unix socket (by default
``/var/lib/kubelet/pod-resources/kubelet.sock``; the node agent's DaemonSet mounts that folder
read-only). Only ``List`` is used. The few protobuf messages involved are encoded and decoded here by
hand (proto3 wire format), so no generated code and no ``protobuf`` dependency are needed:

    ListPodResourcesRequest  {}
    ListPodResourcesResponse { repeated PodResources pod_resources = 1; }
    PodResources             { string name = 1; string namespace = 2; repeated ContainerResources containers = 3; }
    ContainerResources       { string name = 1; repeated ContainerDevices devices = 2; ... }
    ContainerDevices         { string resource_name = 1; repeated string device_ids = 2; ... }

Fields not listed (CPU ids, memory, topology, dynamic resources) are skipped, as proto3 requires.
``grpc`` (the ``agent`` extra) is imported only when the kubelet is first asked.
"""

from dataclasses import dataclass

DEFAULT_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
SERVICE = "v1.PodResourcesLister"
LIST_METHOD = f"/{SERVICE}/List"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # what the kubelet's own clients allow

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


@dataclass(frozen=True)
class ContainerDevices:
    resource_name: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class ContainerResources:
    name: str
    devices: tuple[ContainerDevices, ...]


@dataclass(frozen=True)
class PodResources:
    name: str
    namespace: str
    containers: tuple[ContainerResources, ...]

    def device_ids(self, resource_name: str) -> set[str]:
        """Every device of ``resource_name`` (e.g. ``nvidia.com/gpu``) any of its containers holds."""
        return {
            device_id
            for container in self.containers
            for devices in container.devices
            if devices.resource_name == resource_name
            for device_id in devices.device_ids
        }


class PodResourcesError(Exception):
    """The kubelet could not be asked (no socket, not serving, timeout) or answered nonsense."""


class ProtobufError(ValueError):
    """Bytes that are not a valid encoding of the message."""


class PodResourcesClient:
    """``list()`` asks the kubelet once; the channel is opened on first use and kept."""

    def __init__(self, socket_path: str = DEFAULT_SOCKET, *, timeout: float = 10.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self._channel = None
        self._list = None

    def list(self) -> list[PodResources]:
        import grpc

        if self._list is None:
            self._channel = grpc.insecure_channel(
                f"unix://{self.socket_path}",
                options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
            )
            self._list = self._channel.unary_unary(
                LIST_METHOD,
                request_serializer=lambda _request: b"",
                response_deserializer=decode_list_response,
            )
        try:
            return self._list(None, timeout=self.timeout, wait_for_ready=False)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            details = error.details() if hasattr(error, "details") else str(error)
            raise PodResourcesError(f"PodResources List on {self.socket_path}: {code}: {details}") from None
        except ProtobufError as error:
            raise PodResourcesError(f"PodResources List: undecodable answer: {error}") from None

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._list = None


# --- decoding -------------------------------------------------------------------------------------


def decode_list_response(data: bytes) -> list[PodResources]:
    return [_decode_pod(value) for number, value in _fields(data) if number == 1 and isinstance(value, bytes)]


def _decode_pod(data: bytes) -> PodResources:
    name, namespace, containers = "", "", []
    for number, value in _fields(data):
        if number == 1:
            name = _text(value)
        elif number == 2:
            namespace = _text(value)
        elif number == 3:
            containers.append(_decode_container(_bytes(value)))
    return PodResources(name, namespace, tuple(containers))


def _decode_container(data: bytes) -> ContainerResources:
    name, devices = "", []
    for number, value in _fields(data):
        if number == 1:
            name = _text(value)
        elif number == 2:
            devices.append(_decode_devices(_bytes(value)))
    return ContainerResources(name, tuple(devices))


def _decode_devices(data: bytes) -> ContainerDevices:
    resource_name, device_ids = "", []
    for number, value in _fields(data):
        if number == 1:
            resource_name = _text(value)
        elif number == 2:
            device_ids.append(_text(value))
    return ContainerDevices(resource_name, tuple(device_ids))


def _fields(data: bytes):
    """(field number, value) pairs: int for varint/fixed fields, bytes for length-delimited ones."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire_type == _VARINT:
            value, position = _varint(data, position)
        elif wire_type == _I64:
            value, position = int.from_bytes(_take(data, position, 8), "little"), position + 8
        elif wire_type == _I32:
            value, position = int.from_bytes(_take(data, position, 4), "little"), position + 4
        elif wire_type == _LEN:
            length, position = _varint(data, position)
            value, position = _take(data, position, length), position + length
        else:
            raise ProtobufError(f"unsupported wire type {wire_type} (field {number})")
        yield number, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift >= 64:
            raise ProtobufError("varint longer than 10 bytes")


def _take(data: bytes, position: int, length: int) -> bytes:
    if position + length > len(data):
        raise ProtobufError("truncated field")
    return data[position : position + length]


def _bytes(value) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited field")
    return value


def _text(value) -> str:
    try:
        return _bytes(value).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtobufError(f"string field is not UTF-8: {error}") from None


# --- encoding (the test server's side; also documents the layout) ---------------------------------


def encode_list_response(pods: list[PodResources]) -> bytes:
    return b"".join(_len_field(1, _encode_pod(pod)) for pod in pods)


def _encode_pod(pod: PodResources) -> bytes:
    parts = [_len_field(1, pod.name.encode()), _len_field(2, pod.namespace.encode())]
    parts += [_len_field(3, _encode_container(container)) for container in pod.containers]
    return b"".join(parts)


def _encode_container(container: ContainerResources) -> bytes:
    parts = [_len_field(1, container.name.encode())]
    parts += [_len_field(2, _encode_devices(devices)) for devices in container.devices]
    return b"".join(parts)


def _encode_devices(devices: ContainerDevices) -> bytes:
    parts = [_len_field(1, devices.resource_name.encode())]
    parts += [_len_field(2, device_id.encode()) for device_id in devices.device_ids]
    return b"".join(parts)


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
