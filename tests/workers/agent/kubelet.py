"""A real gRPC server speaking the kubelet's PodResources v1 ``List`` on a unix socket, serving a script."""

import shutil
import tempfile
from concurrent import futures
from pathlib import Path

import grpc

from workers.podresources import SERVICE, encode_list_response


class FakeKubelet:
    """Each ``List`` call answers the next scripted step: a list of PodResources, or a grpc.StatusCode to fail
    with; the last step repeats. ``calls`` counts the calls."""

    def __init__(self, steps: list):
        self.steps = list(steps)
        self.calls = 0
        # A short folder: unix socket paths are limited to 107 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="kubelet-", dir="/tmp"))
        self.socket_path = str(self.directory / "kubelet.sock")
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(
            self._list, request_deserializer=lambda data: data, response_serializer=lambda data: data
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"List": handler}),)
        )
        self.server.add_insecure_port(f"unix://{self.socket_path}")

    def _list(self, request: bytes, context):
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        if request != b"":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ListPodResourcesRequest is empty")
        if isinstance(step, grpc.StatusCode):
            context.abort(step, "scripted failure")
        if isinstance(step, bytes):
            return step
        return encode_list_response(step)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(grace=None).wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)
