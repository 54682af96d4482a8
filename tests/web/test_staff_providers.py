"""Staff's portal pages for providers, clusters and contracts: the same audited services and checks as
/admin/, field errors for bad values (never a 500, nothing written), the token write-only, a cluster's
state set with a reason; members get 403."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.providers import services
from portal.providers.models import Cluster, Contract, Provider
from tests.providers.test_admin import cluster_form
from tests.providers.test_services import TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(staff):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    return client


def test_staff_add_a_provider_cluster_and_contract_audited_and_the_token_never_shown(web, caplog):
    caplog.set_level(logging.DEBUG)
    response = web.post(
        reverse("web:staff_provider_create"), {"name": "Provider A", "contact_email": "a@x.example"}
    )
    assert response.status_code == 302
    provider = Provider.objects.get()
    form = web.get(reverse("web:staff_cluster_create") + f"?provider={provider.public_id}").content.decode()
    assert f'<option value="{provider.pk}" selected>' in form  # the provider it was opened from
    response = web.post(reverse("web:staff_cluster_create"), cluster_form(provider))
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster = Cluster.objects.get()
    assert services.cluster_token(cluster) == TOKEN
    response = web.post(
        reverse("web:staff_contract_create"),
        {"provider": provider.pk, "gpu_type": "H100", "gpus": 400, "starts_on": "2026-01-01",
         "ends_on": "2026-12-31", "price_krw_per_gpu_hour": "3100.50", "kind": "reserved"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Contract.objects.get().price_krw_per_gpu_hour == pytest.approx(3100.5)
    assert {"provider_created", "cluster_created", "contract_created"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )
    pages = [
        web.get(reverse("web:staff_provider_list")).content.decode(),
        web.get(reverse("web:staff_cluster_edit", args=[cluster.public_id])).content.decode(),
    ]
    assert "kr-central-1" in pages[0] and "400 × H100, 16 × H200" in pages[0]
    assert "stored" in pages[0]
    for text in (*pages, caplog.text):
        assert TOKEN not in text and cluster.token_encrypted not in text


def test_a_bad_value_is_a_field_error_and_nothing_is_written(web, staff):
    provider = services.provider_create(staff=staff, name="Provider A")
    response = web.post(
        reverse("web:staff_cluster_create"), cluster_form(provider, api_url="http://plain.example")
    )
    assert response.status_code == 200 and 'class="field has-error"' in response.content.decode()
    response = web.post(
        reverse("web:staff_contract_create"),
        {"provider": provider.pk, "gpu_type": "H100", "gpus": 4, "starts_on": "2026-12-31",
         "ends_on": "2026-01-01", "price_krw_per_gpu_hour": "-1", "kind": "reserved"},
    )  # fmt: skip
    assert response.status_code == 200 and "has-error" in response.content.decode()
    response = web.post(reverse("web:staff_provider_create"), {"name": "Provider A"})  # taken
    assert response.status_code == 200 and "has-error" in response.content.decode()
    assert (Cluster.objects.count(), Contract.objects.count(), Provider.objects.count()) == (0, 0, 1)


def test_a_clusters_state_is_set_with_its_reason_and_a_bad_state_is_refused(web, staff):
    provider = services.provider_create(staff=staff, name="Provider A")
    cluster = services.cluster_create(
        staff=staff, provider=provider, name="c1", backend="simulated", region="capital", gpus={"H100": 8}
    )
    url = reverse("web:staff_cluster_state", args=[cluster.public_id])
    assert web.post(url, {"state": "draining", "reason": "maintenance on 12 Dec"}).status_code == 302
    cluster.refresh_from_db()
    assert cluster.state == "draining" and not cluster.state_set_by_service
    event = AuditEvent.objects.get(action="cluster_state")
    assert (event.actor, event.to_state, event.reason) == (staff, "draining", "maintenance on 12 Dec")
    assert web.post(url, {"state": "melted"}).status_code == 302
    cluster.refresh_from_db()
    assert cluster.state == "draining"
    assert web.get(url).status_code == 405


@pytest.mark.parametrize(
    "name", ["staff_provider_list", "staff_provider_create", "staff_cluster_create", "staff_contract_create"]
)
def test_members_get_403(owner, name):
    client = Client()
    client.force_login(owner)
    assert client.get(reverse(f"web:{name}")).status_code == 403
