from datetime import timedelta

import pytest

from quotas import services as quota_services
from quotas.models import Allocation
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    quota_services.application_decide(application=application, staff=staff, decision="approve", reason="Good")
    return Allocation.objects.get(application=application)


def test_it_lists_only_my_organisations_allocations(client_for, allocation, owner, teammate, outsider):
    for user in (owner, teammate):
        results = client_for(user).get("/api/v1/allocations").json()["results"]
        assert [a["id"] for a in results] == [str(allocation.public_id)]
    assert client_for(outsider).get("/api/v1/allocations").json()["results"] == []
    assert client_for(outsider).get(f"/api/v1/allocations/{allocation.public_id}").status_code == 404


def test_it_answers_with_and_without_a_trailing_slash(client_for, allocation, owner):
    api = client_for(owner)
    assert api.get("/api/v1/allocations").status_code == 200
    assert api.get("/api/v1/allocations/").status_code == 200
    assert api.get(f"/api/v1/allocations/{allocation.public_id}/").json()["id"] == str(allocation.public_id)


def test_it_drafts_a_change_request(client_for, allocation, owner):
    response = client_for(owner).post(
        f"/api/v1/allocations/{allocation.public_id}/change-requests",
        {
            "requested_end": str(allocation.ends_on + timedelta(days=30)),
            "max_concurrent_gpus": allocation.max_concurrent_gpus,
            "justification": "Training took longer.",
            "gpu_requests": {"A100": 500},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["kind"] == "change"
        and body["allocation"] == str(allocation.public_id)
        and body["state"] == "draft"
    )


def test_it_refuses_a_change_request_that_shortens_the_allocation(client_for, allocation, owner):
    response = client_for(owner).post(
        f"/api/v1/allocations/{allocation.public_id}/change-requests",
        {
            "requested_end": str(allocation.ends_on - timedelta(days=1)),
            "max_concurrent_gpus": 8,
            "justification": "x",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "requested_end" in response.json()["extra"]["fields"]


def test_it_lets_staff_suspend_with_a_reason(client_for, allocation, staff, owner):
    url = f"/api/v1/allocations/{allocation.public_id}/status"
    assert (
        client_for(owner).post(url, {"status": "suspended", "reason": "x"}, format="json").status_code == 403
    )
    missing = client_for(staff).post(url, {"status": "suspended"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["extra"]["fields"]
    done = client_for(staff).post(
        url, {"status": "suspended", "reason": "Misuse under investigation"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "suspended"
    again = client_for(staff).post(url, {"status": "suspended", "reason": "again"}, format="json")
    assert again.status_code == 409
    assert client_for(owner).get("/api/v1/allocations?status=suspended").json()["count"] == 1
    assert client_for(owner).get("/api/v1/allocations?status=bogus").status_code == 400
