"""GET /api/v1/providers: the public facts any signed-in user sees, and nothing else."""

import json

import pytest

from portal.providers import services
from tests.providers.test_services import CONTRACT, K8S, TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(staff):
    a = services.provider_create(staff=staff, name="Provider A", contact_email="ops@provider-a.example")
    services.cluster_create(staff=staff, provider=a, **K8S)
    services.cluster_create(
        staff=staff, provider=a, name="busan-1", backend="simulated", region="non_capital", gpus={"H200": 16}
    )
    gone = services.cluster_create(
        staff=staff, provider=a, name="old-1", backend="simulated", region="capital", gpus={"V100": 8}
    )
    services.cluster_set_state(staff=staff, cluster=gone, state="offline")
    services.contract_create(staff=staff, provider=a, **CONTRACT)
    services.provider_create(staff=staff, name="Provider Z")  # no cluster yet: not offered
    b = services.provider_create(staff=staff, name="Provider B")
    down = services.cluster_create(
        staff=staff, provider=b, name="b-1", backend="simulated", region="capital", gpus={"A100": 8}
    )
    services.cluster_set_state(staff=staff, cluster=down, state="offline")  # nothing in service


def test_any_signed_in_user_sees_providers_in_service_with_regions_and_gpu_types(client_for, outsider, fleet):
    response = client_for(outsider).get("/api/v1/providers")
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"name": "Provider A", "regions": ["capital", "non_capital"], "gpu_types": ["H100", "H200"]}
    ]
    text = json.dumps(response.json())
    for secret in (TOKEN, "ops@provider-a.example", "4500", "k8s.provider-a.example"):
        assert secret not in text


def test_it_needs_a_signed_in_user(client, fleet):
    assert client.get("/api/v1/providers").status_code in (401, 403)
