"""/admin/ for providers and clusters: saves go through the audited services, a bad value is a field
error (never a 500), and a cluster's token is write-only: never rendered, never logged."""

import logging

import pytest
from django.test import Client

from portal.audit.models import AuditEvent
from portal.providers import services
from portal.providers.models import Cluster, Provider
from tests.providers.test_services import PEM, TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    return client


@pytest.fixture
def provider(staff):
    return services.provider_create(staff=staff, name="Provider A")


def cluster_form(provider, **change):
    return {
        "provider": provider.pk,
        "name": "kr-central-1",
        "backend": "kubernetes",
        "region": "capital",
        "api_url": "https://k8s.provider-a.example:6443",
        "ca_certificate": PEM,
        "new_token": TOKEN,
        "gpu_counts": "H100=400,H200=16",
        **change,
    }


def test_a_cluster_added_in_the_admin_is_audited_and_its_token_never_shown(
    admin_client, provider, staff, caplog
):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post("/admin/providers/cluster/add/", cluster_form(provider))
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster = Cluster.objects.get(name="kr-central-1")
    assert services.cluster_token(cluster) == TOKEN
    assert {g.gpu_type: g.count for g in cluster.gpus.all()} == {"H100": 400, "H200": 16}
    event = AuditEvent.objects.get(target_id=cluster.public_id)
    assert (event.action, event.actor) == ("cluster_created", staff)
    pages = [
        admin_client.get(f"/admin/providers/cluster/{cluster.pk}/change/").content.decode(),
        admin_client.get("/admin/providers/cluster/").content.decode(),
    ]
    for page in pages:
        assert TOKEN not in page and cluster.token_encrypted not in page
    assert TOKEN not in caplog.text


def test_an_empty_token_field_keeps_the_stored_token(admin_client, provider):
    admin_client.post("/admin/providers/cluster/add/", cluster_form(provider))
    cluster = Cluster.objects.get()
    response = admin_client.post(
        f"/admin/providers/cluster/{cluster.pk}/change/",
        cluster_form(provider, new_token="", region="non_capital"),
    )
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert (cluster.region, services.cluster_token(cluster)) == ("non_capital", TOKEN)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(gpu_counts="H100=lots"), "gpu_counts"),
        (dict(gpu_counts="TPU=8"), "gpu_counts"),
        (dict(api_url="ftp://k8s.example"), "api_url"),
        (dict(new_token=""), "new_token"),
        (dict(backend="local"), "backend"),
    ],
)
def test_a_bad_cluster_in_the_admin_is_a_field_error(admin_client, provider, change, field):
    response = admin_client.post("/admin/providers/cluster/add/", cluster_form(provider, **change))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Cluster.objects.exists()


def test_a_provider_and_a_contract_saved_in_the_admin_are_audited(admin_client, staff):
    response = admin_client.post("/admin/providers/provider/add/", {"name": "Provider B"})
    assert response.status_code == 302
    provider = Provider.objects.get(name="Provider B")
    contract = {
        "provider": provider.pk,
        "gpu_type": "H200",
        "gpus": "400",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "price_krw_per_gpu_hour": "5200",
        "kind": "on_demand",
    }
    bad = admin_client.post("/admin/providers/contract/add/", {**contract, "ends_on": "2025-01-01"})
    assert bad.status_code == 200 and "ends_on" in bad.context["adminform"].form.errors
    assert admin_client.post("/admin/providers/contract/add/", contract).status_code == 302
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"provider_created", "contract_created"} <= actions
