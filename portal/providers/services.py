"""Writing providers, clusters and contracts (staff only), each change audited; credentials encrypted.

Audit events name what changed, never a credential: a token shows as "set", "replaced" or "cleared".
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.errors import InvalidInput, NotAllowed
from portal.providers import credentials
from portal.providers.models import Cluster, ClusterGpus, Contract, Provider
from portal.providers.validation import (
    cluster_errors,
    cluster_state_errors,
    contract_errors,
    provider_errors,
)

PROVIDER_FIELDS = ("name", "contact_name", "contact_email", "contract_reference")
CLUSTER_FIELDS = ("name", "backend", "region", "api_url", "ca_certificate")
CONTRACT_FIELDS = ("gpu_type", "gpus", "starts_on", "ends_on", "price_krw_per_gpu_hour", "kind")


def _staff_only(staff) -> None:
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff manage providers, clusters and contracts."))


def _raise(errors: dict, message: str) -> None:
    if errors:
        raise InvalidInput(message, fields=errors)


def _save_unique(obj, field: str, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise InvalidInput(message, fields={field: [message]}) from None


def _changes(obj, values: dict) -> dict:
    changed = {}
    for field, value in values.items():
        old = getattr(obj, field)
        if old != value:
            changed[field] = [str(old), str(value)]
            setattr(obj, field, value)
    return changed


# -- providers --------------------------------------------------------------------------------------
@transaction.atomic
def provider_create(
    *, staff, name: str, contact_name="", contact_email="", contract_reference=""
) -> Provider:
    _staff_only(staff)
    values = dict(
        name=name,
        contact_name=contact_name,
        contact_email=contact_email,
        contract_reference=contract_reference,
    )
    _raise(provider_errors(**values), _("The provider is not valid."))
    provider = Provider(**{k: v.strip() for k, v in values.items()})
    _save_unique(provider, "name", _("Another provider already has this name."))
    audit_record(actor=staff, target=provider, action="provider_created", data={"name": provider.name})
    return provider


@transaction.atomic
def provider_update(*, staff, provider: Provider, **values) -> Provider:
    _staff_only(staff)
    merged = {field: values.get(field, getattr(provider, field)) for field in PROVIDER_FIELDS}
    _raise(provider_errors(**merged), _("The provider is not valid."))
    changed = _changes(provider, {k: v.strip() for k, v in merged.items()})
    if changed:
        provider.updated_at = timezone.now()
        _save_unique(provider, "name", _("Another provider already has this name."))
        audit_record(actor=staff, target=provider, action="provider_updated", data=changed)
    return provider


# -- clusters ---------------------------------------------------------------------------------------
def _set_gpus(cluster: Cluster, gpus: dict[str, int]) -> None:
    ClusterGpus.objects.filter(cluster=cluster).exclude(gpu_type__in=list(gpus)).delete()
    for gpu_type, count in gpus.items():
        ClusterGpus.objects.update_or_create(cluster=cluster, gpu_type=gpu_type, defaults={"count": count})


@transaction.atomic
def cluster_create(
    *,
    staff,
    provider: Provider,
    name: str,
    backend: str,
    region: str,
    gpus: dict[str, int],
    api_url: str = "",
    ca_certificate: str = "",
    token: str = "",
) -> Cluster:
    _staff_only(staff)
    _raise(
        cluster_errors(
            name=name,
            backend=backend,
            region=region,
            api_url=api_url,
            ca_certificate=ca_certificate,
            token=token,
            gpus=gpus,
        ),
        _("The cluster is not valid."),
    )
    cluster = Cluster(
        provider=provider,
        name=name,
        backend=backend,
        region=region,
        api_url=api_url,
        ca_certificate=ca_certificate,
        token_encrypted=credentials.encrypt(token) if token else "",
    )
    _save_unique(cluster, "name", _("Another cluster already has this name."))
    _set_gpus(cluster, gpus)
    audit_record(
        actor=staff,
        target=cluster,
        action="cluster_created",
        to_state=cluster.state,
        data={
            "provider": provider.name,
            "backend": backend,
            "region": region,
            "gpus": gpus,
            "token": "set" if token else "",
        },
    )
    return cluster


@transaction.atomic
def cluster_update(*, staff, cluster: Cluster, token: str | None = None, gpus=None, **values) -> Cluster:
    """``token`` None keeps the stored one, "" clears it, anything else replaces it."""
    _staff_only(staff)
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    merged = {field: values.get(field, getattr(cluster, field)) for field in CLUSTER_FIELDS}
    current_gpus = {row.gpu_type: row.count for row in cluster.gpus.all()}
    wanted_gpus = current_gpus if gpus is None else gpus
    _raise(
        cluster_errors(**merged, token=token, has_token=cluster.has_token, gpus=wanted_gpus),
        _("The cluster is not valid."),
    )
    changed = _changes(cluster, merged)
    if wanted_gpus != current_gpus:
        _set_gpus(cluster, wanted_gpus)
        changed["gpus"] = [current_gpus, wanted_gpus]
    if token is not None:
        changed["token"] = "cleared" if not token else ("replaced" if cluster.has_token else "set")
        cluster.token_encrypted = credentials.encrypt(token) if token else ""
    if changed:
        cluster.updated_at = timezone.now()
        _save_unique(cluster, "name", _("Another cluster already has this name."))
        audit_record(actor=staff, target=cluster, action="cluster_updated", data=changed)
    return cluster


@transaction.atomic
def cluster_set_state(*, staff, cluster: Cluster, state: str, reason: str = "") -> Cluster:
    """Active, draining (no new placements) or offline. Staff, or the service itself (``staff`` None)
    when a cluster stops answering."""
    if staff is not None:
        _staff_only(staff)
    _raise(cluster_state_errors(state), _("The cluster is not valid."))
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    if cluster.state != state:
        before, cluster.state, cluster.state_changed_at = cluster.state, state, timezone.now()
        cluster.state_set_by_service = staff is None
        cluster.save(update_fields=["state", "state_changed_at", "state_set_by_service"])
        audit_record(
            actor=staff,
            target=cluster,
            action="cluster_state",
            from_state=before,
            to_state=state,
            reason=reason,
        )
    return cluster


def cluster_token(cluster: Cluster) -> str:
    """The plaintext token, for the backend that connects to the cluster; never for a page or a log."""
    return credentials.decrypt(cluster.token_encrypted) if cluster.token_encrypted else ""


def credentials_rotate() -> int:
    """Re-encrypt every stored credential with the first configured key; returns how many. Each cluster
    in its own short transaction, so a rotation interrupted half-way is simply run again."""
    rotated = 0
    for pk in Cluster.objects.exclude(token_encrypted="").values_list("pk", flat=True):
        with transaction.atomic():
            cluster = Cluster.objects.select_for_update().get(pk=pk)
            if not credentials.is_current(cluster.token_encrypted):
                cluster.token_encrypted = credentials.reencrypt(cluster.token_encrypted)
                cluster.save(update_fields=["token_encrypted"])
                rotated += 1
    return rotated


# -- contracts --------------------------------------------------------------------------------------
def _contract_values(values: dict) -> dict:
    out = dict(values)
    if isinstance(out["starts_on"], str):
        out["starts_on"] = date.fromisoformat(out["starts_on"])
    if isinstance(out["ends_on"], str):
        out["ends_on"] = date.fromisoformat(out["ends_on"])
    out["price_krw_per_gpu_hour"] = Decimal(str(out["price_krw_per_gpu_hour"]))
    return out


@transaction.atomic
def contract_create(*, staff, provider: Provider, **values) -> Contract:
    _staff_only(staff)
    given = {field: values.get(field) for field in CONTRACT_FIELDS}
    _raise(contract_errors(**given), _("The contract is not valid."))
    contract = Contract.objects.create(provider=provider, **_contract_values(given))
    audit_record(
        actor=staff,
        target=contract,
        action="contract_created",
        data={"provider": provider.name, **{k: str(v) for k, v in given.items()}},
    )
    return contract


@transaction.atomic
def contract_update(*, staff, contract: Contract, **values) -> Contract:
    _staff_only(staff)
    merged = {field: values.get(field, getattr(contract, field)) for field in CONTRACT_FIELDS}
    _raise(contract_errors(**merged), _("The contract is not valid."))
    changed = _changes(contract, _contract_values(merged))
    if changed:
        contract.updated_at = timezone.now()
        contract.save()
        audit_record(actor=staff, target=contract, action="contract_updated", data=changed)
    return contract
