"""A loopback stand-in for the Kubernetes API server: just the endpoints the Kubernetes backend uses.

Real HTTP on 127.0.0.1 (ThreadingHTTPServer, port 0), state in memory. Like a real server it validates
every object created against the official schema (kubernetes_validate, strict, Kubernetes
KUBERNETES_VERSION) plus the name and label rules the schema cannot express, answering 422 on invalid
objects; it keeps one resourceVersion counter, serves watches as chunked newline-delimited JSON, and
authorises each request against the scheduler ClusterRole in deploy/base when given its rules (403 otherwise). Tests script it:
failures on the next matching requests, dropped watch connections, 410 Gone, changes made by "the cluster".
"""

import copy
import json
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"
CLUSTER_ROLE = Path(__file__).resolve().parents[3] / "deploy" / "base" / "scheduler-clusterrole.yaml"
CLUSTER_SCOPED = {"nodes": "Node", "namespaces": "Namespace"}
NAMESPACED = {"pods": "Pod", "services": "Service"}
KINDS = {**CLUSTER_SCOPED, **NAMESPACED}
REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "AlreadyExists",
    410: "Expired",
    422: "Invalid",
    500: "InternalError",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def cluster_role_rules(path: Path = CLUSTER_ROLE) -> set[tuple[str, str]]:
    """The (verb, resource) pairs the ClusterRole grants, core API group only."""
    role = yaml.safe_load(path.read_text())
    pairs = set()
    for rule in role["rules"]:
        if rule.get("apiGroups") != [""]:
            continue  # the stand-in serves the core API group only (NetworkPolicies are real-server tests)
        pairs |= {(verb, resource) for verb in rule["verbs"] for resource in rule["resources"]}
    return pairs


class Invalid(Exception):
    pass


@dataclass
class Request:
    verb: str
    resource: str
    namespace: str
    name: str
    query: dict[str, str]


@dataclass
class Fault:
    verb: str
    resource: str
    status: int
    name: str | None
    message: str
    times: int
    gone_as_event: bool = False


@dataclass
class _Watch:
    resource: str
    drop: bool = False
    expire: bool = False  # end with an ERROR event carrying 410
    end: bool = False
    last_sent: int = 0


class FakeApiServer:
    def __init__(self, *, rbac: set[tuple[str, str]] | None = None):
        self.rbac = rbac
        self.changed = threading.Condition()
        self.objects: dict[str, dict[tuple[str, str], dict]] = {resource: {} for resource in KINDS}
        self.history: list[tuple[int, str, str, dict]] = []  # (resourceVersion, resource, type, object)
        self.resource_version = 100
        self.oldest_watchable = 0  # a watch from before this answers 410 Gone (etcd compaction)
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.logs: dict[tuple[str, str], bytes] = {}
        self.graceful_deletion = False
        self.watches: list[_Watch] = []
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> "FakeApiServer":
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-apiserver",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        with self.changed:
            for watch in self.watches:
                watch.end = True
            self.changed.notify_all()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- what it saw ------------------------------------------------------------------------------

    @property
    def recorded(self) -> set[tuple[str, str]]:
        with self.changed:
            return {(request.verb, request.resource) for request in self.requests}

    def requests_for(self, verb: str, resource: str) -> list[Request]:
        with self.changed:
            return [r for r in self.requests if r.verb == verb and r.resource == resource]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate()`` holds (checked on every change to the server's state)."""
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")

    def open_watches(self, resource: str) -> int:
        return sum(1 for watch in self.watches if watch.resource == resource and not watch.end)

    # --- scripting failures -----------------------------------------------------------------------

    def fail(
        self,
        verb: str,
        resource: str,
        status: int,
        *,
        name: str | None = None,
        message: str = "",
        times: int = 1,
        gone_as_event: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (a watch: 410 as status or ERROR event)."""
        with self.changed:
            self.faults.append(
                Fault(verb, resource, status, name, message or f"scripted {status}", times, gone_as_event)
            )

    def drop_watches(self, resource: str) -> None:
        """Cut the open watch connections mid-chunk, as a load balancer or a restarting server does."""
        with self.changed:
            for watch in self.watches:
                if watch.resource == resource and not watch.end:
                    watch.drop = True
            self.changed.notify_all()

    def expire_watches(self, resource: str, *, as_event: bool) -> None:
        """Compact history: open watches end (with an ERROR 410 event if ``as_event``), resuming answers 410."""
        with self.changed:
            # etcd revisions are cluster-wide: something else changed, then history up to now was compacted.
            self.resource_version += 1
            self.oldest_watchable = self.resource_version
            for watch in self.watches:
                if watch.resource == resource and not watch.end:
                    if as_event:
                        watch.expire = True
                    else:
                        watch.drop = True
            self.changed.notify_all()

    # --- the cluster changing things by itself ----------------------------------------------------

    def put(self, obj: dict, *, silently: bool = False) -> dict:
        """Create or replace an object as a controller or kubelet would (no validation, no RBAC)."""
        obj = copy.deepcopy(obj)
        resource = _resource_of(obj["kind"])
        with self.changed:
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            exists = key in self.objects[resource]
            self._stamp(obj, new=not exists)
            self.objects[resource][key] = obj
            if not silently:
                self._record_event(resource, "MODIFIED" if exists else "ADDED", obj)
            self.changed.notify_all()
            return copy.deepcopy(obj)

    def remove(self, resource: str, name: str, namespace: str = "", *, silently: bool = False) -> None:
        with self.changed:
            obj = self.objects[resource].pop((namespace, name))
            self.resource_version += 1
            obj["metadata"]["resourceVersion"] = str(self.resource_version)
            if not silently:
                self._record_event(resource, "DELETED", obj)
            self.changed.notify_all()

    def get(self, resource: str, name: str, namespace: str = "") -> dict | None:
        with self.changed:
            obj = self.objects[resource].get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def pods(self) -> list[dict]:
        with self.changed:
            return [copy.deepcopy(pod) for _, pod in sorted(self.objects["pods"].items())]

    def set_pod_status(self, namespace: str, name: str, **status) -> dict:
        """Move a pod as the kubelet would: ``phase``, ``reason``, ``containerStatuses``, node name …"""
        pod = self.get("pods", name, namespace)
        node = status.pop("node_name", None)
        if node:
            pod["spec"]["nodeName"] = node
        pod["status"] = {**pod.get("status", {}), **status}
        return self.put(pod)

    def finish_deletions(self) -> None:
        """The kubelets confirm every graceful deletion in progress."""
        with self.changed:
            doomed = [
                key for key, pod in self.objects["pods"].items() if pod["metadata"].get("deletionTimestamp")
            ]
        for namespace, name in doomed:
            self.remove("pods", name, namespace)

    # --- internals (callers hold self.changed) ----------------------------------------------------

    def _stamp(self, obj: dict, *, new: bool) -> None:
        self.resource_version += 1
        metadata = obj["metadata"]
        metadata["resourceVersion"] = str(self.resource_version)
        if new:
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", _now())

    def _record_event(self, resource: str, kind: str, obj: dict) -> None:
        self.history.append((int(obj["metadata"]["resourceVersion"]), resource, kind, copy.deepcopy(obj)))

    def _take_fault(self, verb: str, resource: str, name: str) -> Fault | None:
        for fault in self.faults:
            if (
                fault.verb == verb
                and fault.resource == resource
                and fault.name in (None, name)
                and fault.times > 0
            ):
                fault.times -= 1
                return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: FakeApiServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )  # no Nagle stalls on small writes

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # --- routing ----------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        parts = [part for part in url.path.split("/") if part]
        body = None
        if int(self.headers.get("Content-Length") or 0):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if parts[:2] != ["api", "v1"]:
            return self._status(404, f"the server could not find the requested resource ({url.path})")
        rest = parts[2:]
        namespace, name, subresource = "", "", ""
        if len(rest) >= 3 and rest[0] == "namespaces":  # /namespaces/{ns}/{resource}[/{name}[/{sub}]]
            namespace, resource = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else ""
            subresource = rest[4] if len(rest) > 4 else ""
        else:  # /{resource}[/{name}]
            resource = rest[0] if rest else ""
            name = rest[1] if len(rest) > 1 else ""
        if resource not in KINDS:
            return self._status(404, f"the server could not find the requested resource ({url.path})")
        watching = query.get("watch", "").lower() in ("true", "1")
        verb = {
            ("GET", False): "get",
            ("GET", True): "list",
            ("POST", True): "create",
            ("DELETE", False): "delete",
            ("DELETE", True): "deletecollection",
        }.get((method, not name), "")
        if verb == "list" and watching:
            verb = "watch"
        rbac_resource = f"{resource}/{subresource}" if subresource else resource
        api = self.api
        with api.changed:
            api.requests.append(Request(verb, rbac_resource, namespace, name, query))
            api.changed.notify_all()
            if api.rbac is not None and (verb, rbac_resource) not in api.rbac:
                return self._status(
                    403,
                    f'{rbac_resource} is forbidden: User "system:serviceaccount:gpugrant:gpugrant-scheduler" '
                    f'cannot {verb} resource "{rbac_resource}" in API group ""',
                )
            object_name = name or ((body or {}).get("metadata") or {}).get("name", "")
            fault = api._take_fault(verb, rbac_resource, object_name)
        if fault and not (verb == "watch" and fault.gone_as_event):
            return self._status(fault.status, fault.message)
        handler = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "delete": self._delete,
        }.get(verb)
        if handler is None or (subresource and (resource, subresource, verb) != ("pods", "log", "get")):
            return self._status(405, f"{method} is not supported here")
        if subresource:
            return self._log(namespace, name, query)
        return (
            handler(resource, namespace, name, query, body)
            if verb != "watch"
            else self._watch(resource, namespace, query, fault)
        )

    # --- verbs ------------------------------------------------------------------------------------

    def _get(self, resource, namespace, name, query, body):
        obj = self.api.get(resource, name, namespace)
        if obj is None:
            return self._status(404, f'{resource} "{name}" not found')
        self._json(200, obj)

    def _list(self, resource, namespace, name, query, body):
        api = self.api
        with api.changed:
            items = [
                copy.deepcopy(obj)
                for (obj_namespace, _), obj in sorted(api.objects[resource].items())
                if (not namespace or obj_namespace == namespace) and _selected(obj, query)
            ]
            version = str(api.resource_version)
        self._json(
            200,
            {
                "apiVersion": "v1",
                "kind": f"{KINDS[resource]}List",
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _create(self, resource, namespace, name, query, body):
        api = self.api
        if resource in CLUSTER_SCOPED and resource != "namespaces":
            return self._status(405, f"the fake server does not create {resource}")
        body.setdefault("apiVersion", "v1")
        body.setdefault("kind", KINDS[resource])
        metadata = body.setdefault("metadata", {})
        if namespace:
            if metadata.setdefault("namespace", namespace) != namespace:
                return self._status(
                    400,
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            if api.get("namespaces", namespace) is None:
                return self._status(404, f'namespaces "{namespace}" not found')
        try:
            _validate(body)
        except Invalid as error:
            return self._status(422, f'{KINDS[resource]} "{metadata.get("name", "")}" is invalid: {error}')
        with api.changed:
            key = (namespace, metadata["name"])
            if key in api.objects[resource]:
                return self._status(409, f'{resource} "{metadata["name"]}" already exists')
            stored = copy.deepcopy(body)
            if resource == "pods":
                stored["status"] = {"phase": "Pending"}
            if resource == "namespaces":
                stored["status"] = {"phase": "Active"}
            created = api.put(stored)
        self._json(201, created)

    def _delete(self, resource, namespace, name, query, body):
        api = self.api
        with api.changed:
            obj = api.objects[resource].get((namespace, name))
            if obj is None:
                return self._status(404, f'{resource} "{name}" not found')
            if resource == "pods" and api.graceful_deletion:
                if not obj["metadata"].get("deletionTimestamp"):
                    obj = copy.deepcopy(obj)
                    obj["metadata"]["deletionTimestamp"] = _now()
                    obj["metadata"]["deletionGracePeriodSeconds"] = 30
                    obj = api.put(obj)
            else:
                api.remove(resource, name, namespace)
        self._json(200, obj)

    def _log(self, namespace, name, query):
        api = self.api
        if api.get("pods", name, namespace) is None:
            return self._status(404, f'pods "{name}" not found')
        data = api.logs.get((namespace, name), b"")
        if "tailLines" in query:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(query["tailLines"]) :]) if int(query["tailLines"]) else b""
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"])]
        self._send(200, "text/plain", data)

    def _watch(self, resource, namespace, query, fault):
        api = self.api
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 1800)
        with api.changed:
            expired = since < api.oldest_watchable
            watch = _Watch(resource, last_sent=since)
            if not expired and not fault:
                api.watches.append(watch)
                api.changed.notify_all()
        if expired and not (fault and fault.gone_as_event):
            return self._status(410, f"too old resource version: {since} ({api.oldest_watchable})")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if fault or expired:
            self._chunk(_gone_event(since, api.oldest_watchable))
            return self._end_stream()
        deadline = time.monotonic() + timeout
        try:
            while True:
                with api.changed:
                    pending = [
                        (version, kind, obj)
                        for version, res, kind, obj in api.history
                        if res == resource
                        and version > watch.last_sent
                        and (not namespace or obj["metadata"].get("namespace") == namespace)
                        and _selected(obj, query)
                    ]
                    if not pending and not (watch.drop or watch.expire or watch.end):
                        remaining = deadline - time.monotonic()
                        if remaining <= 0 or self._client_gone():
                            break
                        api.changed.wait(min(remaining, 0.05))  # and look for a hung-up client now and then
                        continue
                    drop, expire, end = watch.drop, watch.expire, watch.end
                if drop:
                    # Promise more bytes than we send, then hang up: the client sees a broken chunk.
                    # Events not sent yet stay unsent: the client must resume from what it saw.
                    self.wfile.write(b'400\r\n{"type": "MODIF')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if expire:
                    self._chunk(_gone_event(watch.last_sent, api.oldest_watchable))
                    break
                for version, kind, obj in pending:
                    self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    watch.last_sent = version
                if end:
                    break
            self._end_stream()
        except OSError:
            self.close_connection = True
        finally:
            with api.changed:
                watch.end = True
                api.changed.notify_all()

    def _client_gone(self) -> bool:
        # poll, not select: a long test run holds descriptors above select()'s limit of 1024.
        poller = select.poll()
        poller.register(self.connection, select.POLLIN | select.POLLHUP | select.POLLERR)
        readable = poller.poll(0)
        try:
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # --- responses --------------------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _status(self, code: int, message: str) -> None:
        self._json(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": REASONS.get(code, "Unknown"),
                "code": code,
            },
        )

    def _json(self, code: int, payload: dict) -> None:
        self._send(code, "application/json", json.dumps(payload).encode())

    def _send(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# --- validation ---------------------------------------------------------------------------------------


def _validate(obj: dict) -> None:
    """The official schema (strict: unknown fields are errors), then the rules the apiserver adds to it."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise Invalid(f"{'.'.join(str(part) for part in error.path)}: {error.message}") from error
    metadata = obj["metadata"]
    name = metadata.get("name", "")
    kind = obj["kind"]
    if kind == "Service":
        _check(_DNS_1035.match(name) and len(name) <= 63, f"metadata.name: {name!r} is not a DNS-1035 label")
    elif kind == "Namespace":
        _check(_DNS_LABEL.match(name) and len(name) <= 63, f"metadata.name: {name!r} is not a DNS-1123 label")
    else:
        _check(
            _DNS_SUBDOMAIN.match(name) and len(name) <= 253,
            f"metadata.name: {name!r} is not a DNS-1123 subdomain",
        )
    for key, value in (metadata.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        _check(
            _LABEL_NAME.match(label) and len(label) <= 63 and (not prefix or _DNS_SUBDOMAIN.match(prefix)),
            f"metadata.labels: invalid key {key!r}",
        )
        _check(_LABEL_VALUE.match(value) and len(value) <= 63, f"metadata.labels: invalid value {value!r}")
    if kind == "Pod":
        spec = obj["spec"]
        for field_name in ("hostname", "subdomain"):
            if field_name in spec:
                _check(
                    _DNS_LABEL.match(spec[field_name]) and len(spec[field_name]) <= 63,
                    f"spec.{field_name}: {spec[field_name]!r} is not a DNS-1123 label",
                )
        for container in spec["containers"]:
            _check(_DNS_LABEL.match(container["name"]), f"spec.containers.name: {container['name']!r}")
            resources = container.get("resources") or {}
            limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
            for resource in set(limits) | set(requests):
                if "/" in resource and not resource.startswith("kubernetes.io/"):  # an extended resource
                    _check(
                        resource in limits, f"resources.limits: {resource} must be set for extended resources"
                    )
                    _check(
                        str(requests.get(resource, limits[resource])) == str(limits[resource]),
                        f"resources.requests: {resource} must equal its limit",
                    )
                    _check(
                        re.fullmatch(r"[0-9]+", str(limits[resource])) is not None,
                        f"resources.limits: {resource} must be a whole number",
                    )


def _check(condition, message: str) -> None:
    if not condition:
        raise Invalid(message)


# --- selectors ----------------------------------------------------------------------------------------


def _selected(obj: dict, query: dict[str, str]) -> bool:
    return _labels_match(obj, query.get("labelSelector", "")) and _fields_match(
        obj, query.get("fieldSelector", "")
    )


def _split_requirements(selector: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b`` is two requirements)."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _labels_match(obj: dict, selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for requirement in _split_requirements(selector):
        set_based = re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", requirement)
        if set_based:
            key, operator, values = set_based.groups()
            values = {value.strip() for value in values.split(",")}
            if (operator == "in") != (labels.get(key) in values and key in labels):
                return False
        elif "!=" in requirement:
            key, value = requirement.split("!=", 1)
            if labels.get(key.strip()) == value.strip():  # a missing key matches, as in Kubernetes
                return False
        elif "=" in requirement:
            key, value = requirement.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif requirement.startswith("!"):
            if requirement[1:] in labels:
                return False
        elif requirement not in labels:
            return False
    return True


def _fields_match(obj: dict, selector: str) -> bool:
    for requirement in _split_requirements(selector):
        negate = "!=" in requirement
        path, value = re.split(r"!=|==|=", requirement, maxsplit=1)
        current = obj
        for part in path.strip().split("."):
            current = current.get(part, {}) if isinstance(current, dict) else {}
        actual = current if isinstance(current, str) else ""
        if path.strip() == "status.phase" and not actual:
            actual = "Pending"
        if (actual == value.strip()) == negate:
            return False
    return True


# --- small things ---------------------------------------------------------------------------------------


def _resource_of(kind: str) -> str:
    return {value: key for key, value in KINDS.items()}[kind]


def _gone_event(since: int, oldest: int) -> bytes:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {since} ({oldest})",
        "reason": "Expired",
        "code": 410,
    }
    return json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
