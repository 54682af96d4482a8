"""NetworkPolicies evaluated the way the API defines them, for tests (no CNI enforces them here).

A flow is allowed when the source's egress and the destination's ingress both allow it (a side no policy
selects for that direction is open). ipBlocks are taken to match addresses outside the cluster only,
which is what the API promises for them.
"""

import ipaddress
from dataclasses import dataclass, field

from tests.deploy.manifests import selects


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict = field(default_factory=dict)


@dataclass(frozen=True)
class External:
    address: str


def _namespace_labels(namespace: str) -> dict:
    return {"kubernetes.io/metadata.name": namespace}


def _peer_matches(peer: dict, policy_namespace: str, other) -> bool:
    if "ipBlock" in peer:
        if not isinstance(other, External):
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.address)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if isinstance(other, External):
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], _namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    if not rule.get("ports"):
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in rule["ports"])


def _allowed_one_way(policies, pod: Pod, other, port: int, protocol: str, direction: str) -> bool:
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    isolating = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and direction in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not isolating:
        return True
    return any(
        _port_matches(rule, port, protocol)
        and (
            not rule.get(peers)
            or any(_peer_matches(peer, p["metadata"]["namespace"], other) for peer in rule[peers])
        )
        for p in isolating
        for rule in p["spec"].get(key, [])
    )


def allowed(policies, source, destination, port: int, protocol: str = "TCP") -> bool:
    if isinstance(source, Pod) and not _allowed_one_way(
        policies, source, destination, port, protocol, "Egress"
    ):
        return False
    if isinstance(destination, Pod):
        return _allowed_one_way(policies, destination, source, port, protocol, "Ingress")
    return True
