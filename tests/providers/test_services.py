"""Providers, clusters and contracts: staff only, field-level errors, every change audited, tokens
encrypted at rest and never in an audit event, key rotation."""

import base64
import json
import secrets
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from portal.audit.models import AuditEvent
from portal.errors import InvalidInput, NotAllowed
from portal.providers import services
from portal.providers.credentials import CredentialsUnreadable
from portal.providers.models import Cluster

pytestmark = pytest.mark.django_db

TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account-token-" + "x" * 40
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
K8S = dict(
    name="kr-central-1",
    backend="kubernetes",
    region="capital",
    api_url="https://k8s.provider-a.example:6443",
    ca_certificate=PEM,
    token=TOKEN,
    gpus={"H100": 400},
)
CONTRACT = dict(
    gpu_type="H100",
    gpus=200,
    starts_on="2026-01-01",
    ends_on="2026-12-31",
    price_krw_per_gpu_hour="4500.00",
    kind="reserved",
)


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def provider(staff):
    return services.provider_create(staff=staff, name="Provider A", contact_email="ops@provider-a.example")


def test_staff_create_a_provider_audited_and_nobody_else_may(staff, owner):
    provider = services.provider_create(staff=staff, name="  Provider B ", contract_reference="NIPA-2026-17")
    assert provider.name == "Provider B"
    event = AuditEvent.objects.get(target_id=provider.public_id)
    assert (event.target_type, event.action, event.actor) == ("provider", "provider_created", staff)
    with pytest.raises(NotAllowed):
        services.provider_create(staff=owner, name="Provider C")


@pytest.mark.parametrize(
    "values, field",
    [
        (dict(name=""), "name"),
        (dict(name="x" * 101), "name"),
        (dict(name="P", contact_email="not-an-email"), "contact_email"),
        (dict(name="Provider A"), "name"),  # taken
    ],
)
def test_a_bad_provider_is_refused_by_field(staff, provider, values, field):
    with pytest.raises(InvalidInput) as refused:
        services.provider_create(staff=staff, **values)
    assert field in refused.value.fields


def test_a_provider_update_records_what_changed(staff, provider):
    services.provider_update(staff=staff, provider=provider, contact_name="Park")
    event = AuditEvent.objects.get(target_id=provider.public_id, action="provider_updated")
    assert event.data == {"contact_name": ["", "Park"]}


def test_a_clusters_token_is_stored_encrypted_and_never_audited(staff, provider):
    cluster = services.cluster_create(staff=staff, provider=provider, **K8S)
    row = Cluster.objects.filter(pk=cluster.pk).values().get()
    assert TOKEN not in json.dumps(row, default=str)
    assert services.cluster_token(cluster) == TOKEN
    assert {g.gpu_type: g.count for g in cluster.gpus.all()} == {"H100": 400}
    events = AuditEvent.objects.filter(target_id=cluster.public_id)
    assert TOKEN not in json.dumps(list(events.values("data", "reason")), default=str)
    assert events.get().data["token"] == "set"


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(api_url="http://k8s.example:6443"), "api_url"),  # not https
        (dict(api_url=""), "api_url"),
        (dict(ca_certificate="not a certificate"), "ca_certificate"),
        (dict(token=""), "token"),  # Kubernetes needs one
        (dict(name="Has Spaces"), "name"),
        (dict(backend="slurm"), "backend"),
        (dict(region="moon"), "region"),
        (dict(gpus={"TPU": 8}), "gpus"),
        (dict(gpus={"H100": 0}), "gpus"),
        (dict(gpus={"H100": True}), "gpus"),
        (dict(gpus=["H100"]), "gpus"),
        (dict(backend="simulated"), "backend"),  # a simulated cluster has no token or API server
    ],
)
def test_a_bad_cluster_is_refused_by_field_and_nothing_is_written(staff, provider, change, field):
    with pytest.raises(InvalidInput) as refused:
        services.cluster_create(staff=staff, provider=provider, **{**K8S, **change})
    assert field in refused.value.fields
    assert not Cluster.objects.exists()


def test_a_token_is_kept_replaced_or_cleared_and_the_audit_says_which(staff, provider):
    cluster = services.cluster_create(staff=staff, provider=provider, **K8S)
    services.cluster_update(staff=staff, cluster=cluster, region="non_capital")  # token None: kept
    assert services.cluster_token(Cluster.objects.get(pk=cluster.pk)) == TOKEN
    services.cluster_update(staff=staff, cluster=cluster, token="another-token")
    assert services.cluster_token(Cluster.objects.get(pk=cluster.pk)) == "another-token"
    with pytest.raises(InvalidInput) as refused:  # a Kubernetes cluster cannot lose its token
        services.cluster_update(staff=staff, cluster=cluster, token="")
    assert "token" in refused.value.fields
    updates = AuditEvent.objects.filter(target_id=cluster.public_id, action="cluster_updated")
    assert [e.data.get("token") for e in updates.order_by("id")] == [None, "replaced"]
    assert "another-token" not in json.dumps(list(updates.values("data")))


def test_state_changes_are_audited_from_and_to(staff, provider):
    cluster = services.cluster_create(staff=staff, provider=provider, **K8S)
    services.cluster_set_state(staff=staff, cluster=cluster, state="draining", reason="maintenance")
    services.cluster_set_state(staff=None, cluster=cluster, state="offline", reason="API server silent")
    events = AuditEvent.objects.filter(target_id=cluster.public_id, action="cluster_state").order_by("id")
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        ("active", "draining", staff),
        ("draining", "offline", None),
    ]
    with pytest.raises(InvalidInput) as refused:
        services.cluster_set_state(staff=staff, cluster=cluster, state="exploded")
    assert "state" in refused.value.fields


def test_rotating_the_key_reencrypts_every_token_and_the_old_key_can_go(staff, provider, settings):
    old, new = fernet_key(), fernet_key()
    settings.GPUGRANT_CREDENTIALS_KEYS = [old]
    cluster = services.cluster_create(staff=staff, provider=provider, **K8S)
    local = services.cluster_create(
        staff=staff, provider=provider, name="lab", backend="local", region="capital", gpus={"A100": 4}
    )
    before = Cluster.objects.get(pk=cluster.pk).token_encrypted
    settings.GPUGRANT_CREDENTIALS_KEYS = [new]  # the old key removed too early: unreadable, said so
    with pytest.raises(CredentialsUnreadable):
        services.cluster_token(Cluster.objects.get(pk=cluster.pk))
    settings.GPUGRANT_CREDENTIALS_KEYS = [new, old]  # the documented order: new first, old still there
    call_command("rotate_credentials_key", stdout=(out := __import__("io").StringIO()))
    assert "re-encrypted 1 credential" in out.getvalue()  # the local cluster has none
    assert Cluster.objects.get(pk=cluster.pk).token_encrypted != before
    settings.GPUGRANT_CREDENTIALS_KEYS = [new]  # now the old key can go
    assert services.cluster_token(Cluster.objects.get(pk=cluster.pk)) == TOKEN
    assert services.cluster_token(local) == ""
    assert services.credentials_rotate() == 0  # already under the first key: nothing to do


def test_contracts_are_checked_by_field_and_audited(staff, provider):
    contract = services.contract_create(staff=staff, provider=provider, **CONTRACT)
    assert (contract.starts_on, contract.price_krw_per_gpu_hour) == (date(2026, 1, 1), Decimal("4500.00"))
    services.contract_update(staff=staff, contract=contract, gpus=250)
    actions = list(AuditEvent.objects.filter(target_id=contract.public_id).values_list("action", flat=True))
    assert sorted(actions) == ["contract_created", "contract_updated"]


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(gpu_type="TPU"), "gpu_type"),
        (dict(gpus=0), "gpus"),
        (dict(gpus=True), "gpus"),
        (dict(gpus="200"), "gpus"),
        (dict(ends_on="2025-12-31"), "ends_on"),
        (dict(starts_on="31/01/2026"), "starts_on"),
        (dict(price_krw_per_gpu_hour="-1"), "price_krw_per_gpu_hour"),
        (dict(price_krw_per_gpu_hour="1.005"), "price_krw_per_gpu_hour"),
        (dict(price_krw_per_gpu_hour="NaN"), "price_krw_per_gpu_hour"),
        (dict(price_krw_per_gpu_hour="Infinity"), "price_krw_per_gpu_hour"),
        (dict(price_krw_per_gpu_hour="1e30"), "price_krw_per_gpu_hour"),
        (dict(kind="spot"), "kind"),
    ],
)
def test_a_bad_contract_is_refused_by_field(staff, provider, change, field):
    with pytest.raises(InvalidInput) as refused:
        services.contract_create(staff=staff, provider=provider, **{**CONTRACT, **change})
    assert field in refused.value.fields
