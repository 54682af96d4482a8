"""Load shedding: per-organisation submission limits (429) and the per-process overload guard (503)."""

import pytest

from portal.api import throttling
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from tests.api.test_jobs_api import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def test_one_organisation_is_throttled_while_another_still_submits(
    client_for, owner, teammate, outsider, allocation, other_allocation, nodes, settings
):
    settings.GPUGRANT_ORG_SUBMIT_RATE = "3/min"
    owner_api, teammate_api = client_for(owner), client_for(teammate)
    statuses = [
        api.post("/api/v1/jobs", body(allocation, name=f"j{i}"), format="json").status_code
        for i, api in enumerate([owner_api, teammate_api, owner_api, teammate_api])
    ]
    # Two users, one organisation: the limit is the organisation's, not each user's.
    assert statuses == [201, 201, 201, 429]
    refused = owner_api.post("/api/v1/jobs", body(allocation, name="late"), format="json")
    assert refused.status_code == 429
    assert refused.json() == {
        "message": refused.json()["message"],
        "code": "throttled",
        "extra": {"fields": {}},
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert Job.objects.filter(allocation=allocation).count() == 3  # nothing written for refused ones
    # Another organisation is not starved by the first one's burst.
    other = client_for(outsider)
    assert other.post("/api/v1/jobs", body(other_allocation), format="json").status_code == 201
    # Reads are not submissions.
    assert owner_api.get("/api/v1/jobs").status_code == 200


def test_an_unknown_allocation_is_refused_by_the_view_not_the_throttle(
    client_for, owner, allocation, settings
):
    settings.GPUGRANT_ORG_SUBMIT_RATE = "1/min"
    api = client_for(owner)
    missing = body(allocation, allocation="00000000-0000-0000-0000-000000000000")
    assert [api.post("/api/v1/jobs", missing, format="json").status_code for _ in range(3)] == [400] * 3


def test_an_empty_rate_turns_the_organisation_limit_off(client_for, owner, allocation, nodes, settings):
    settings.GPUGRANT_ORG_SUBMIT_RATE = ""
    api = client_for(owner)
    assert {
        api.post("/api/v1/jobs", body(allocation, name=f"j{i}"), format="json").status_code for i in range(5)
    } == {201}


def test_the_overload_guard_sheds_with_503_and_retry_after(
    client_for, owner, allocation, nodes, settings, caplog
):
    settings.GPUGRANT_SUBMIT_CONCURRENCY = 1
    settings.GPUGRANT_OVERLOAD_RETRY_AFTER_S = 2
    api = client_for(owner)
    with throttling.submission_slot(), caplog.at_level("WARNING"):  # another request holds the only slot
        refused = api.post("/api/v1/jobs", body(allocation), format="json")
    assert refused.status_code == 503
    # shedding is not an error: no ERROR line per refused request (thousands of them under a burst)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert refused.headers["Retry-After"] == "2"
    assert refused.json()["code"] == "overloaded" and refused.json()["extra"] == {"fields": {}}
    assert not Job.objects.exists()
    # The slot is released after each request, so the next one is admitted.
    assert api.post("/api/v1/jobs", body(allocation), format="json").status_code == 201
    assert api.post("/api/v1/jobs", body(allocation, name="again"), format="json").status_code == 201
