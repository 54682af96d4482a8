"""Node agent credentials: ``Authorization: Node <key>``. A node is not a user and sees no user data."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from scheduler.models import NodeKey

PREFIX = "ggnode"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def node_key_create(*, node: str, cluster=None) -> tuple[NodeKey, str]:
    """A key for the agent of ``node`` (of ``cluster``, a registered federated cluster, if given: the
    agent then reports as that cluster's node and can speak for no other cluster's)."""
    prefix = secrets.token_hex(6)
    plaintext = f"{PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = NodeKey.objects.create(node=node, cluster=cluster, prefix=prefix, key_hash=_digest(plaintext))
    return key, plaintext


def node_key_authenticate(plaintext: str) -> NodeKey | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    key = NodeKey.objects.select_related("cluster").filter(prefix=parts[1], revoked_at=None).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plaintext)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        NodeKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@dataclass(frozen=True)
class NodePrincipal:
    """``request.user`` for a node agent."""

    node: str
    is_authenticated: bool = True
    is_staff: bool = False
    is_reviewer: bool = False
    is_active: bool = True
    pk: None = None


class NodeKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != "node":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Authorization header must be 'Node <key>'."))
        key = node_key_authenticate(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked node key."))
        return NodePrincipal(key.qualified_node), key

    def authenticate_header(self, request) -> str:
        return 'Node realm="node-agents"'


class IsNode(permissions.BasePermission):
    message = _("Only node agents may do this.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, NodePrincipal)
