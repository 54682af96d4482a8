"""What one job submission costs in SQL statements and cache round trips: counted, never timed."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework.exceptions import ValidationError

from portal.api import throttling
from portal.api.serializers.jobs import JobIn, JobOut, job_in_validated, job_out_data
from portal.environments.models import Environment
from portal.organisations.models import Membership
from portal.organisations.selectors import memberships_read_once, organisation_ids_of
from scheduler import services
from scheduler.inventory import inventory_sync
from scheduler.models import GpuNode, Job
from tests.api.test_jobs_api import body

pytestmark = pytest.mark.django_db

# The API key with its user's memberships, the allocation with its queue's size, and one statement that
# takes the hold and writes the job, its event and its Idempotency-Key (docs/benchmarks.md, section 6: it
# was 18, then 5).
STATEMENTS_PER_SUBMISSION = 3


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def statements_of(api, data, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/jobs", data, format="json", **headers)
    assert response.status_code == 201, response.json()
    # The test's own transaction makes the submission take a savepoint; outside tests there is none.
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.mark.postgres
@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "counted-1"}], ids=["no key", "key"])
def test_a_submission_takes_three_statements_on_postgresql(client_for, owner, allocation, nodes, headers):
    api = client_for(owner)
    statements_of(api, body(allocation, name="first"))  # marks the API key used, reads node sizes
    statements = statements_of(api, body(allocation, name="counted"), **headers)
    assert len(statements) <= STATEMENTS_PER_SUBMISSION, statements
    assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in statements)
    assert not any("FOR UPDATE" in sql for sql in statements)  # the hold is one conditional UPDATE


@pytest.mark.postgres
def test_a_submission_by_environment_name_takes_no_more(client_for, owner, allocation, nodes):
    # The catalogue is read once per process every few seconds, like node sizes, not per submission.
    Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch 2.5", image="pytorch/pytorch:2.5.1", cuda_version="12.4"
    )
    api = client_for(owner)
    by_name = body(allocation, name="first", environment_name="pytorch-2.5")
    del by_name["image"]
    statements_of(api, by_name)
    statements = statements_of(api, {**by_name, "name": "counted"})
    assert len(statements) <= STATEMENTS_PER_SUBMISSION, statements


def test_the_throttles_read_and_write_their_counters_in_one_round_trip_each(
    client_for, owner, allocation, nodes, monkeypatch
):
    api = client_for(owner)
    api.post("/api/v1/jobs", body(allocation, name="first"), format="json")
    calls = []

    class Counted:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(cache, name)

    monkeypatch.setattr(throttling, "cache", Counted())
    assert api.post("/api/v1/jobs", body(allocation, name="counted"), format="json").status_code == 201
    # The user's and the organisation's counters together; the allocation's organisation is remembered.
    assert calls == ["get_many", "set_many"]


def test_memberships_are_read_once_per_block_and_afresh_outside_it(owner, organisation):
    with CaptureQueriesContext(connection) as captured, memberships_read_once():
        assert organisation_ids_of(owner) == organisation_ids_of(owner) == {organisation.pk}
    assert len(captured) == 1
    Membership.objects.filter(user=owner).delete()
    assert organisation_ids_of(owner) == set()  # nothing outlives the block


@pytest.mark.postgres
def test_memberships_read_with_the_api_key_are_read_afresh_for_each_submission(
    client_for, owner, allocation, nodes
):
    api = client_for(owner)
    assert api.post("/api/v1/jobs", body(allocation, name="member"), format="json").status_code == 201
    Membership.objects.filter(user=owner).delete()
    refused = api.post("/api/v1/jobs", body(allocation, name="no longer"), format="json")
    assert refused.status_code == 400, refused.json()


def test_node_sizes_are_read_again_once_forgotten(nodes):
    assert services.largest_placement("A100", 8) == 1
    GpuNode.objects.filter(gpu_type="A100").update(schedulable=False)
    assert services.largest_placement("A100", 8) == 1  # trusted for NODE_SIZES_TTL_S
    services.node_sizes_forget()
    assert services.largest_placement("A100", 8) == 0


def test_the_response_serializer_built_once_says_what_a_new_one_says(client_for, owner, allocation, nodes):
    api = client_for(owner)
    for name in ("one", "two"):
        assert api.post("/api/v1/jobs", body(allocation, name=name), format="json").status_code == 201
    for job in Job.objects.select_related("allocation", "organisation", "created_by"):
        assert job_out_data(job, {}) == JobOut(job).data
        assert (
            job_out_data(job, {"queue_views": {job.gpu_type: None}})
            == JobOut(job, context={"queue_views": {job.gpu_type: None}}).data
        )


def test_the_input_serializer_built_once_answers_in_the_language_of_each_request(allocation):
    too_many = {**body(allocation), "gpus_per_pod": 999}
    for language in ("en", "ko", "en"):  # built in English first, then asked in Korean in the same thread
        with translation.override(language):
            fresh = JobIn(data=too_many)
            assert not fresh.is_valid()
            with pytest.raises(ValidationError) as reused:
                job_in_validated(too_many)
            assert reused.value.detail == fresh.errors
            assert [str(m) for m in reused.value.detail["gpus_per_pod"]] == [
                str(m) for m in fresh.errors["gpus_per_pod"]
            ]


def test_the_input_serializer_built_once_answers_what_a_new_one_answers(allocation):
    good = body(allocation, name="fine")
    inputs = [
        good,
        {**good, "gpus_per_pod": "8"},  # the wrong JSON type
        {**good, "name": ""},
        {**good, "unknown": 1},
        {k: v for k, v in good.items() if k != "command"},
        {},
        None,
        [good],
        good,  # after failures, a valid body validates again
    ]
    for data in inputs:
        fresh = JobIn(data=data)
        try:
            fresh.is_valid(raise_exception=True)
        except ValidationError as refused:
            with pytest.raises(ValidationError) as reused:
                job_in_validated(data)
            assert reused.value.detail == refused.detail, data
        else:
            assert job_in_validated(data) == fresh.validated_data
