"""A call's panel ranking through the API (staff): each reviewer's scores normalised, the call's weights,
only submitted reviews count; the weights set with field errors, audited."""

import pytest
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.applications import services as application_services
from portal.applications.models import Review
from portal.audit.models import AuditEvent
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=staff)[1]}")
    return client


def review(owner, organisation, call, staff, reviewer, title, merit, impact=None):
    application = builders.under_review(
        builders.submitted(builders.make_application(owner, organisation, call, project_title=title), owner),
        staff,
        reviewer,
    )
    if merit is not None:
        application_services.review_submit(
            review=Review.objects.get(application=application, reviewer=reviewer),
            reviewer=reviewer,
            technical_merit=merit,
            feasibility=merit,
            impact=merit if impact is None else impact,
            need_for_public_compute=merit,
        )
    return application


@pytest.fixture
def panel(owner, organisation, call, staff, reviewer):
    """The lenient reviewer scores A 5 and B 4, the strict one C 3 and D 2; E is not scored yet."""
    strict = builders.make_user("strict@example.test", reviewer=True)
    made = {
        "A": review(owner, organisation, call, staff, reviewer, "A", 5),
        "B": review(owner, organisation, call, staff, reviewer, "B", 4),
        "C": review(owner, organisation, call, staff, strict, "C", 3),
        "D": review(owner, organisation, call, staff, strict, "D", 2, impact=1),
        "E": review(owner, organisation, call, staff, strict, "E", None),
    }
    return made


def titles(body):
    return [row["project_title"] for row in body["ranking"]]


def test_a_strict_reviewer_does_not_sink_their_applications(api, call, panel):
    body = api.get(f"/api/v1/calls/{call.public_id}/ranking").json()
    assert titles(body) == ["A", "C", "B", "D"]  # E has no submitted review yet
    rows = {row["project_title"]: row for row in body["ranking"]}
    assert rows["C"]["score"] > rows["B"]["score"] and rows["C"]["raw"] < rows["B"]["raw"]
    assert [row["position"] for row in body["ranking"]] == [1, 2, 3, 4]
    assert body["weights"] == dict.fromkeys(
        ["technical_merit", "feasibility", "impact", "need_for_public_compute"], 1.0
    )


def test_the_calls_weights_reorder_it_and_are_audited(api, call, panel, staff):
    response = api.put(f"/api/v1/calls/{call.public_id}/criteria", {"weights": {"impact": 0}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["weights"]["impact"] == 0.0
    event = AuditEvent.objects.get(action="call_weights_set")
    assert event.actor == staff and event.data["to"]["impact"] == 0.0


@pytest.mark.parametrize(
    "weights, field",
    [
        ({"charm": 2}, "charm"),
        ({"impact": -1}, "impact"),
        ({"impact": "a lot"}, "impact"),
        ({"impact": True}, "impact"),
        ({"technical_merit": 0, "feasibility": 0, "impact": 0, "need_for_public_compute": 0}, "weights"),
        ({}, "weights"),
    ],
)
def test_bad_weights_are_field_errors_and_change_nothing(api, call, weights, field):
    response = api.put(f"/api/v1/calls/{call.public_id}/criteria", {"weights": weights}, format="json")
    assert response.status_code == 400 and field in response.json()["extra"]["fields"], response.json()
    call.refresh_from_db()
    assert call.criteria_weights == {} and not AuditEvent.objects.filter(action="call_weights_set").exists()
