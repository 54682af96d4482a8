"""A call's statistics through the API: staff's full figures, the public's with small groups withheld and
nothing that names an applicant, each only to whom it is for, in the reader's language, in the schema."""

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import ApiKey
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(owner, organisation, other_organisation, outsider, call, staff, reviewer):
    """Four applications of the owner's SME (one selected, 1,000 of 2,000 GPU-hours used) and one of the
    outsider's university (selected); no region stated, so all count as the capital area."""
    allocation = builders.approved(
        owner, organisation, call, staff, reviewer, gpu_requests={"A100": 2000}, max_concurrent_gpus=4,
        project_title="Secret SME project",
    )  # fmt: skip
    allocation.budgets.update(used_gpu_seconds=1000 * 3600)
    for _ in range(3):
        builders.submitted(
            builders.make_application(owner, organisation, call, gpu_requests={"A100": 500}), owner
        )
    builders.approved(
        outsider, other_organisation, call, staff, reviewer, gpu_requests={"H100": 300}, max_concurrent_gpus=2,
        project_title="Secret university project",
    )  # fmt: skip
    return call


def groups(body, dimension):
    return {row["group"]: row for row in body[f"by_{dimension}"]}


def test_it_gives_staff_every_figure(client_for, staff, five):
    response = client_for(staff).get(f"/api/v1/calls/{five.public_id}/statistics")
    assert response.status_code == 200
    body = response.json()
    assert body["call"] == str(five.public_id)
    assert body["total"] == {
        "group": "",
        "label": "All applications",
        "withheld": "",
        "figures": {
            "applications": 5,
            "asked_gpu_hours": 2000 + 3 * 500 + 300,
            "selected": 2,
            "selection_ratio": 0.4,
            "awarded_gpus": 6,
            "awarded_gpu_hours": 2300,
            "allocated_gpu_hours": 2300,
            "used_gpu_hours": 1000.0,
            "utilisation": 1000 / 2300,
        },
    }
    academia = groups(body, "sector")["academia"]
    assert (academia["label"], academia["withheld"]) == ("Academia (universities)", "")
    assert academia["figures"]["applications"] == 1 and academia["figures"]["utilisation"] == 0.0
    assert groups(body, "sector")["industry"]["figures"]["selection_ratio"] == 0.25
    assert groups(body, "region")["capital"]["figures"]["applications"] == 5
    assert groups(body, "region")["non_capital"]["figures"]["applications"] == 0
    assert groups(body, "track")[""]["label"] == "No track"


def test_it_withholds_small_groups_from_the_public_and_names_no_one(five):
    response = APIClient().get(f"/api/v1/calls/{five.public_id}/statistics/public")
    assert response.status_code == 200
    body = response.json()
    assert body["total"]["figures"]["applications"] == 5
    # the university's one application, and the SME's four, which would give it away from the total
    sectors = groups(body, "sector")
    assert (sectors["academia"]["withheld"], sectors["academia"]["figures"]) == ("fewer_than_3", None)
    assert (sectors["industry"]["withheld"], sectors["industry"]["figures"]) == ("protects_another", None)
    assert sectors["public_research"]["figures"]["applications"] == 0
    types = groups(body, "org_type")
    assert (
        types["university"]["withheld"] == "fewer_than_3" and types["sme"]["withheld"] == "protects_another"
    )
    assert groups(body, "region")["capital"]["figures"]["selected"] == 2
    text = response.content.decode()
    for secret in ("Owner's SME", "Outsider University", "Secret SME project", "Secret university project"):
        assert secret not in text


def test_it_names_the_groups_in_korean_when_asked(five):
    body = (
        APIClient().get(f"/api/v1/calls/{five.public_id}/statistics/public", HTTP_ACCEPT_LANGUAGE="ko").json()
    )
    assert body["total"]["label"] == "전체 신청"
    assert groups(body, "sector")["academia"]["label"] == "학계(대학)"


def test_it_gives_the_full_figures_to_staff_alone(client_for, owner, reviewer, five):
    path = f"/api/v1/calls/{five.public_id}/statistics"
    assert APIClient().get(path).status_code == 401
    assert client_for(owner).get(path).status_code == 403
    assert client_for(reviewer).get(path).status_code == 403


def test_it_shows_no_statistics_of_a_call_not_yet_opened_but_to_staff(client_for, staff):
    upcoming = builders.make_call(staff, open_now=False)
    assert APIClient().get(f"/api/v1/calls/{upcoming.public_id}/statistics/public").status_code == 404
    assert client_for(staff).get(f"/api/v1/calls/{upcoming.public_id}/statistics").status_code == 200


def test_it_documents_both_in_the_schema():
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    assert "security" not in schema  # each operation names its own
    staff = schema["paths"]["/api/v1/calls/{public_id}/statistics"]["get"]
    assert {"apiKey": []} in staff["security"]
    public = schema["paths"]["/api/v1/calls/{public_id}/statistics/public"]["get"]
    assert "security" not in public  # no credentials asked for
    figures = schema["components"]["schemas"]["StatisticsFiguresOut"]["properties"]
    assert figures["utilisation"]["nullable"] is True


def test_it_refuses_a_revoked_key_even_on_the_public_figures(client_for, owner, five):
    client = client_for(owner)
    ApiKey.objects.filter(user=owner).update(revoked_at=timezone.now())
    assert client.get(f"/api/v1/calls/{five.public_id}/statistics/public").status_code == 401
