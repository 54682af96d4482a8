"""A real Kubernetes control plane on loopback, for the tests and benchmarks (docs/kubernetes.md).

etcd, kube-apiserver (RBAC on, service-account tokens, an audit log), kube-controller-manager,
kube-scheduler and kwok, built from Kubernetes' own modules by tests/cluster/build. A CA and every
certificate are made at start; ports are chosen at run time; everything lives in one folder that
``stop()`` removes. kwok plays the kubelet of GPU nodes that look like GPU Feature Discovery labelled
them: no container ever runs, pods move through the stages in tests/cluster/kwok-stages.yaml.

By hand (prints the KUBECONFIG to use, keeps running until Ctrl-C):

    .venv/bin/python -m tests.cluster.controlplane --nodes 4
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STAGES = HERE / "kwok-stages.yaml"
AUDIT_POLICY = HERE / "audit-policy.yaml"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")
KUBERNETES_VERSION = "v1.37.2"
# kwok manages only the nodes carrying this annotation.
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
H100_PRODUCT = "NVIDIA-H100-80GB-HBM3"


def _audit_lines(line: bytes) -> list[dict]:
    """The events on one line of the audit log. An API server stopped while writing leaves an event torn
    (no newline), and the next server appends its first event to it: that whole event is kept, the torn
    one (never finished, so never answered) dropped."""
    try:
        return [json.loads(line)]
    except ValueError:
        start = line.rfind(b'{"kind":"Event"')
        if start <= 0:
            return []
        try:
            return [json.loads(line[start:])]
        except ValueError:
            return []


class ControlPlaneError(RuntimeError):
    pass


def binaries_folder() -> Path:
    """Where tests/cluster/build put the binaries: GPUGRANT_CLUSTER_BIN, else the cache's bin/."""
    if os.environ.get("GPUGRANT_CLUSTER_BIN"):
        return Path(os.environ["GPUGRANT_CLUSTER_BIN"])
    cache = os.environ.get("GPUGRANT_CLUSTER_CACHE") or str(ROOT / "var" / "cluster")
    return Path(cache) / "bin"


def missing_reason(names: Iterable[str] = BINARIES) -> str | None:
    """Why the control plane cannot start here, or None when every binary is built."""
    folder = binaries_folder()
    missing = [name for name in names if not (folder / name).exists()]
    if not missing:
        return None
    if not shutil.which("go"):
        return "needs Go 1.26 to build the test control plane (tests/cluster/build); none on PATH"
    return (
        f"the test control plane is not built ({', '.join(missing)} missing in {folder}): run `make cluster`"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- certificates ------------------------------------------------------------------------------------


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject, public_key, issuer, signing_key, *, ca=False, server_names=(), client=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        sans = [
            x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name)
            for name in server_names
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _name(common_name: str, organisation: str | None = None):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


@dataclass
class Pki:
    """The files of a fresh CA, the apiserver's serving certificate, client certificates and the
    service-account signing key."""

    folder: Path
    pairs: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # file stem → (certificate, key)

    @classmethod
    def make(
        cls, folder: Path, clients: dict[str, tuple[str, str | None]], servers: dict[str, tuple[str, ...]]
    ) -> Pki:
        """``clients``: file stem → (CN, O); ``servers``: file stem → the names it serves."""
        from cryptography.hazmat.primitives import serialization

        folder.mkdir(parents=True, exist_ok=True)
        pki = cls(folder)
        ca_key = _new_key()
        ca_name = _name("gpugrant-test-ca")
        ca = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
        pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        sa_key = _new_key()
        pki.sa_key.write_bytes(_pem_key(sa_key))
        pki.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        wanted = [(stem, _name(cn, org), {"client": True}) for stem, (cn, org) in clients.items()]
        wanted += [(stem, _name(stem), {"server_names": names}) for stem, names in servers.items()]
        for stem, subject, kind in wanted:
            key = _new_key()
            cert = _certificate(subject, key.public_key(), ca_name, ca_key, **kind)
            cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(_pem_key(key))
            pki.pairs[stem] = (cert_path, key_path)
        for path in folder.iterdir():
            path.chmod(0o600)
        return pki

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def sa_key(self) -> Path:
        return self.folder / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.folder / "sa.pub"


def write_kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    token: str | None = None,
    user: str = "user",
) -> Path:
    """A kubeconfig for one user; JSON is valid YAML, so no YAML writer is needed."""
    credentials: dict = {}
    if cert and key:
        credentials = {"client-certificate": str(cert), "client-key": str(key)}
    if token:
        credentials = {"token": token}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "gpugrant-test", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": user, "context": {"cluster": "gpugrant-test", "user": user}}],
        "current-context": user,
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


# --- the control plane -------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ControlPlane:
    """Start with ``start()``, end with ``stop()`` (or use it as a context manager).

    ``scheduler=False`` leaves pods without a node unless something else places them (gpugrant pins its
    own pods by node affinity; kube-scheduler still has to bind them, as in a real cluster, so the tests
    keep it on). ``audit=True`` writes every request to ``audit_log`` (JSON lines), which the tests read to
    see what a client asked for.
    """

    def __init__(
        self,
        *,
        bin_dir: Path | None = None,
        folder: Path | None = None,
        scheduler: bool = True,
        controller_manager: bool = True,
        kwok: bool = True,
        audit: bool = True,
        client_qps: int = 200,
        extra_apiserver_args: Iterable[str] = (),
    ):
        self.bin_dir = Path(bin_dir or binaries_folder())
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="gpugrant-cluster-"))
        self.with_scheduler = scheduler
        self.with_controller_manager = controller_manager
        self.with_kwok = kwok
        self.audit = audit
        self.client_qps = client_qps
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.processes: dict[str, Process] = {}
        self.etcd_port = 0
        self.port = 0
        self.pki: Pki | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def audit_log(self) -> Path:
        return self.folder / "audit.log"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.folder / "admin.kubeconfig"

    def start(self) -> ControlPlane:
        reason = missing_reason()
        if reason:
            raise ControlPlaneError(reason)
        started = time.monotonic()
        try:
            self.pki = Pki.make(
                self.folder / "pki",
                clients={
                    "admin": ("gpugrant-test-admin", "system:masters"),
                    "controller-manager": ("system:kube-controller-manager", None),
                    "scheduler": ("system:kube-scheduler", None),
                    "kwok": ("kwok-controller", "system:masters"),
                    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", None),
                },
                servers={
                    "apiserver": (
                        "127.0.0.1",
                        "localhost",
                        "kubernetes",
                        "kubernetes.default",
                        "kubernetes.default.svc",
                        "10.96.0.1",
                    ),
                    "kwok-kubelet": ("127.0.0.1",),  # kwok answers the kubelet API (pod logs) here
                },
            )
            self._start_etcd()
            self._start_apiserver()
            for client in ("admin", "controller-manager", "scheduler", "kwok"):
                cert, key = self.pki.pairs[client]
                write_kubeconfig(
                    self.folder / f"{client}.kubeconfig",
                    self.server,
                    self.pki.ca,
                    cert=cert,
                    key=key,
                    user=client,
                )
            self._wait_ready()
            if self.with_controller_manager:
                self._start_controller_manager()
            if self.with_scheduler:
                self._start_scheduler()
            if self.with_kwok:
                self._start_kwok()
            self._prepare_cluster()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self._end(name)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _end(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.popen.poll() is not None:
            return
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(15)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(15)

    def _spawn(self, name: str, args: list[str]) -> Process:
        log = self.folder / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [str(self.bin_dir / args[0]), *args[1:]],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                start_new_session=True,  # Ctrl-C in a terminal reaches the test runner, which stops these
            )
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def _wait(self, what: str, check, process: Process, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{process.name} exited ({process.popen.returncode}):\n{process.tail()}"
                )
            if check():
                return
            time.sleep(0.1)
        raise ControlPlaneError(f"{what} not ready within {timeout:.0f} s:\n{process.tail()}")

    def _start_etcd(self) -> None:
        self.etcd_port, peer = free_port(), free_port()
        process = self._spawn(
            "etcd",
            [
                "etcd",
                "--name=default",
                f"--data-dir={self.folder / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",  # throwaway data: fsync only slows the tests
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: _http_ok(f"{self.etcd_url}/health"), process)

    def _start_apiserver(self, port: int | None = None) -> None:
        assert self.pki
        self.port = port or free_port()
        args = [
            "kube-apiserver",
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",  # a loopback address cannot be the kubernetes Service's endpoint
            f"--secure-port={self.port}",
            f"--tls-cert-file={self.pki.pairs['apiserver'][0]}",
            f"--tls-private-key-file={self.pki.pairs['apiserver'][1]}",
            f"--client-ca-file={self.pki.ca}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.pki.sa_pub}",
            f"--service-account-signing-key-file={self.pki.sa_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            # Pod logs: the apiserver asks the node's kubelet endpoint, which is kwok's server on loopback.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={self.pki.ca}",
            f"--kubelet-client-certificate={self.pki.pairs['apiserver-kubelet-client'][0]}",
            f"--kubelet-client-key={self.pki.pairs['apiserver-kubelet-client'][1]}",
            "--profiling=true",
            # Stop within 2 s instead of waiting out open watches (SIGTERM then took 15 s and a kill):
            # restart_apiserver() and stop() stay quick.
            "--shutdown-send-retry-after=true",
            "--v=0",
        ]
        if self.audit:
            args += [
                f"--audit-policy-file={AUDIT_POLICY}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",  # an event is written before its response is sent
            ]
        args += self.extra_apiserver_args
        process = self._spawn("kube-apiserver", args)
        self._wait("kube-apiserver", self._apiserver_ready, process, timeout=120)

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port: every connection drops, and its watch
        cache starts afresh from etcd's current revision."""
        self._end("kube-apiserver")
        self._start_apiserver(self.port)

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.pki
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        cert, key = self.pki.pairs["admin"]
        context.load_cert_chain(str(cert), str(key))
        return context

    def _apiserver_ready(self) -> bool:
        return _http_ok(f"{self.server}/readyz", context=self._ssl_context())

    def _wait_ready(self) -> None:
        self._wait("kube-apiserver", self._apiserver_ready, self.processes["kube-apiserver"], timeout=120)

    def _start_controller_manager(self) -> None:
        assert self.pki
        kubeconfig = self.folder / "controller-manager.kubeconfig"
        self._spawn(
            "kube-controller-manager",
            [
                "kube-controller-manager",
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--root-ca-file={self.pki.ca}",
                f"--service-account-private-key-file={self.pki.sa_key}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--kube-api-qps={self.client_qps}",
                f"--kube-api-burst={self.client_qps * 2}",
                "--v=0",
            ],
        )

    def _start_scheduler(self) -> None:
        kubeconfig = self.folder / "scheduler.kubeconfig"
        config = self.folder / "scheduler-config.json"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubescheduler.config.k8s.io/v1",
                    "kind": "KubeSchedulerConfiguration",
                    "clientConnection": {
                        "kubeconfig": str(kubeconfig),
                        "qps": self.client_qps,
                        "burst": self.client_qps * 2,
                    },
                    "leaderElection": {"leaderElect": False},
                }
            )
        )
        self._spawn(
            "kube-scheduler",
            [
                "kube-scheduler",
                f"--config={config}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--v=0",
            ],
        )

    @property
    def pod_log(self) -> Path:
        """The log every pod's containers show (kwok serves it in the container runtime's log format):
        ``write_pod_log`` fills it."""
        return self.folder / "pod.log"

    def write_pod_log(self, lines: Iterable[str]) -> None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.pod_log.write_text("".join(f"{stamp} stdout F {line}\n" for line in lines))

    def _start_kwok(self) -> None:
        assert self.pki
        self.write_pod_log([])
        config = self.folder / "kwok.yaml"
        logs = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "every-pod"},
            "spec": {"selector": {}, "logs": [{"logsFile": str(self.pod_log)}]},
        }
        config.write_text(STAGES.read_text() + "\n---\n" + json.dumps(logs) + "\n")
        kubelet_port = free_port()
        cert, key = self.pki.pairs["kwok-kubelet"]
        self._spawn(
            "kwok",
            [
                "kwok",
                f"--kubeconfig={self.folder / 'kwok.kubeconfig'}",
                f"--config={config}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={KWOK_ANNOTATION[1]}",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
                f"--node-port={kubelet_port}",
                f"--server-address=127.0.0.1:{kubelet_port}",
                f"--tls-cert-file={cert}",
                f"--tls-private-key-file={key}",
            ],
        )

    def _prepare_cluster(self) -> None:
        """What a GPU cluster has before gpugrant arrives: the GPU Operator's RuntimeClass ``nvidia``."""
        self.apply(
            {
                "apiVersion": "node.k8s.io/v1",
                "kind": "RuntimeClass",
                "metadata": {"name": "nvidia"},
                "handler": "nvidia",
            }
        )
        if self.with_controller_manager:
            # Pods need their namespace's "default" service account, which the controller manager makes.
            self.wait_for(
                lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
                "the default service account",
                timeout=60,
            )

    # -- talking to it --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, dict]:
        """One API request as the cluster admin; returns (status, JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.server}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self._ssl_context(), timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return error.code, json.loads(payload or b"{}")
            except json.JSONDecodeError:
                return error.code, {"message": payload.decode(errors="replace")}

    def apiserver_cpu_profile(self, seconds: int) -> bytes:
        """A CPU profile of kube-apiserver over the next ``seconds`` (Go's pprof format, from /debug/pprof)."""
        request = urllib.request.Request(f"{self.server}/debug/pprof/profile?seconds={seconds}")
        with urllib.request.urlopen(request, context=self._ssl_context(), timeout=seconds + 30) as response:
            return response.read()

    def _exists(self, path: str) -> bool:
        return self.request("GET", path)[0] == 200

    def apply(self, obj: dict, *, field_manager: str = "gpugrant-tests") -> dict:
        """Server-side apply of one object as the admin."""
        path = _object_path(obj) + f"?fieldManager={field_manager}&force=true"
        status, body = self.request("PATCH", path, obj, content_type="application/apply-patch+yaml")
        if status >= 300:
            raise ControlPlaneError(
                f"apply {obj['kind']}/{obj['metadata']['name']}: {status} {body.get('message')}"
            )
        return body

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def wait_for(self, condition, what: str, timeout: float = 30.0, interval: float = 0.1):
        """Poll ``condition`` until it returns something truthy, which is returned."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    def check_alive(self) -> None:
        """Raise, with the end of its log, if a component has exited."""
        for process in self.processes.values():
            if process.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{process.name} exited ({process.popen.returncode}):\n{process.tail()}"
                )

    def service_account_token(self, namespace: str, name: str, seconds: int = 3600) -> str:
        """A bound token for a service account (the TokenRequest API, what a pod would be given)."""
        status, body = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds},
            },
        )
        if status != 201:
            raise ControlPlaneError(f"token for {namespace}/{name}: {status} {body.get('message')}")
        return body["status"]["token"]

    def kubeconfig_for_service_account(self, namespace: str, name: str) -> Path:
        assert self.pki
        token = self.service_account_token(namespace, name)
        return write_kubeconfig(
            self.folder / f"sa-{namespace}-{name}.kubeconfig",
            self.server,
            self.pki.ca,
            token=token,
            user=f"{namespace}-{name}",
        )

    def add_gpu_nodes(
        self,
        names: Iterable[str],
        *,
        gpus: int = 8,
        product: str = H100_PRODUCT,
        labels: dict | None = None,
        taints: Iterable[dict] = (GPU_TAINT,),
    ) -> list[str]:
        """Nodes as a GPU node looks once the NVIDIA GPU Operator has labelled it; kwok keeps them Ready."""
        names = list(names)
        for name in names:
            self.create_node(gpu_node(name, gpus=gpus, product=product, labels=labels, taints=taints))
        return names

    def create_node(self, node: dict) -> None:
        status, body = self.request("POST", "/api/v1/nodes", node)
        if status != 201:
            raise ControlPlaneError(f"create node {node['metadata']['name']}: {status} {body.get('message')}")

    def wait_nodes_ready(self, names: Iterable[str], timeout: float = 60.0) -> None:
        wanted = set(names)

        def all_ready():
            _, body = self.request("GET", "/api/v1/nodes")
            ready = {
                node["metadata"]["name"]
                for node in body.get("items", [])
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in node["status"].get("conditions", [])
                )
                # the node lifecycle controller lifts its not-ready taint a moment after the node is Ready;
                # until then a scheduler (gpugrant's inventory too) rightly treats the node as unschedulable
                and not any(t.get("key") in NOT_READY_TAINTS for t in node["spec"].get("taints") or [])
            }
            return wanted <= ready

        self.wait_for(all_ready, f"{len(wanted)} nodes Ready", timeout=timeout)

    def audit_events(self, offset: int = 0) -> tuple[list[dict], int]:
        """Audit events written after byte ``offset`` of the log, and the offset to read from next."""
        with self.audit_log.open("rb") as log:
            log.seek(offset)
            data = log.read()
        end = data.rfind(b"\n") + 1
        events = [event for line in data[:end].splitlines() if line.strip() for event in _audit_lines(line)]
        return events, offset + end

    def audit_offset(self) -> int:
        """The offset just past the last whole event: the log's size can fall inside an event another
        client's request is having written at this moment, and reading from there would start mid-line."""
        if not self.audit_log.exists():
            return 0
        with self.audit_log.open("rb") as log:
            size = log.seek(0, 2)
            start = max(0, size - 65536)
            while True:
                log.seek(start)
                tail = log.read(size - start)
                newline = tail.rfind(b"\n")
                if newline >= 0:
                    return start + newline + 1
                if start == 0:
                    return 0
                start = max(0, start - 65536)

    def etcd_compact(self) -> int:
        """Compact etcd's history up to its current revision (through etcd's JSON gateway); returns it."""
        revision = int(_etcd_post(self.etcd_url, "/v3/kv/range", {"key": "AA=="})["header"]["revision"])
        _etcd_post(self.etcd_url, "/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision


def gpu_node(
    name: str,
    *,
    gpus: int = 8,
    product: str = H100_PRODUCT,
    labels: dict | None = None,
    taints: Iterable[dict] = (GPU_TAINT,),
) -> dict:
    """A Node object as GPU Feature Discovery and the NVIDIA device plugin leave it."""
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(gpus),
        "nvidia.com/gpu.memory": "81559",
        **(labels or {}),
    }
    resources = {"cpu": "128", "memory": "2Ti", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1]},
        },
        "spec": {"taints": [dict(t) for t in taints]},
        "status": {"allocatable": resources, "capacity": resources},
    }


def cpu_node(name: str, *, labels: dict | None = None) -> dict:
    """A kwok node without GPUs: no GPU Feature Discovery labels, no nvidia.com/gpu, no GPU taint."""
    node = gpu_node(name, taints=())
    gpu_free = {
        key: value for key, value in node["metadata"]["labels"].items() if not key.startswith("nvidia.com/")
    }
    node["metadata"]["labels"] = {**gpu_free, **(labels or {})}
    resources = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    node["status"] = {"allocatable": resources, "capacity": resources}
    return node


def _object_path(obj: dict) -> str:
    """The REST path of a namespaced or cluster-wide object of the kinds the tests apply."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = _PLURALS.get(kind) or kind.lower() + "s"
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    namespace = obj["metadata"].get("namespace")
    name = obj["metadata"]["name"]
    if namespace:
        return f"{base}/namespaces/{namespace}/{plural}/{name}"
    return f"{base}/{plural}/{name}"


_PLURALS = {
    "Ingress": "ingresses",
    "NetworkPolicy": "networkpolicies",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "ResourceQuota": "resourcequotas",
    "PriorityClass": "priorityclasses",
    "RuntimeClass": "runtimeclasses",
}


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _etcd_post(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=4, help="kwok GPU nodes (8 GPUs each)")
    parser.add_argument(
        "--folder", type=Path, help="keep certificates, logs and data here (default: a temp folder)"
    )
    options = parser.parse_args()
    plane = ControlPlane(folder=options.folder)
    plane.start()
    try:
        names = plane.add_gpu_nodes(f"gpu-{i}" for i in range(options.nodes))
        plane.wait_nodes_ready(names)
        print(
            f"control plane {KUBERNETES_VERSION} up in {plane.start_seconds:.1f} s at {plane.server}, "
            f"{len(names)} kwok GPU nodes; logs in {plane.folder / 'logs'}"
        )
        print(f"export KUBECONFIG={plane.admin_kubeconfig}")
        print("Ctrl-C stops it and removes its folder.", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        plane.stop()


if __name__ == "__main__":
    main()
