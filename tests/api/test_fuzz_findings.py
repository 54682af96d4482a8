"""One test per bug the schemathesis run (test_fuzz.py) found, so each stays fixed without the fuzzer."""

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    return yaml.safe_load(Client().get("/api/schema/").content)


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "page=99", "page_size=0", "page_size=201", "page_size=null"]
)
def test_it_refuses_bad_pagination_with_a_field_error(client_for, owner, query):
    response = client_for(owner).get(f"/api/v1/api-keys?{query}")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {query.split("=")[0]}


def test_it_documents_list_responses_as_pages(schema):
    ok = schema["paths"]["/api/v1/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"] == "#/components/schemas/PaginatedJobOutList"


def test_it_answers_a_malformed_api_path_with_the_json_envelope(client_for, owner):
    response = client_for(owner).get("/api/v1/jobs/not-a-uuid")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not found.", "code": "not_found", "extra": {"fields": {}}}


def test_it_still_answers_a_missing_page_with_html(client):
    assert client.get("/no/such/page/")["Content-Type"].startswith("text/html")


def test_it_documents_the_error_envelope_on_every_operation(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "put", "patch"):
                assert {"400", "409", "413", "415"} <= set(responses), (method, path)


def test_it_documents_load_shedding_on_job_submission(schema):
    responses = schema["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert "Retry-After" in responses["429"]["headers"] and "Retry-After" in responses["503"]["headers"]


def test_it_documents_reviewer_assignment_as_created(schema):
    assert "201" in schema["paths"]["/api/v1/applications/{public_id}/assign"]["post"]["responses"]


def test_it_documents_usage_exports_as_csv(schema):
    assert (
        "text/csv" in schema["paths"]["/api/v1/jobs/{public_id}/usage"]["get"]["responses"]["200"]["content"]
    )


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_it_takes_only_json_booleans_for_a_key_scope(client_for, owner, value):
    response = client_for(owner).post("/api/v1/api-keys", {"name": "x", "read_only": value}, format="json")
    assert response.status_code == 400
    assert "read_only" in response.json()["extra"]["fields"]


def test_it_keeps_the_docs_page_out_of_the_schema(schema):
    assert "/api/docs/" not in schema["paths"]


def test_it_answers_options_on_the_docs_page_without_a_server_error(client):
    assert client.options("/api/docs/").status_code == 405
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 0}, "name"),
        ({"name": "x", "read_only": "false"}, "read_only"),
        ({"name": ["x"]}, "name"),
    ],
)
def test_it_refuses_a_json_value_of_the_wrong_type_instead_of_coercing_it(client_for, owner, body, field):
    response = client_for(owner).post("/api/v1/api-keys", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


def test_it_refuses_a_number_sent_as_a_string_in_a_job(client_for, owner, allocation):
    body = {
        "allocation": str(allocation.public_id),
        "name": "typed",
        "kind": "training",
        "image": "python:3.11",
        "command": ["python", 1],
        "gpu_type": "A100",
        "gpus_per_pod": "1",
        "max_runtime_minutes": 10.0,
    }
    response = client_for(owner).post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"command", "gpus_per_pod"}


@pytest.mark.parametrize(
    "query", ["jobs?kind=", "jobs?state=", "jobs?allocation=", "applications?state=", "allocations?status="]
)
def test_it_reports_a_filter_given_empty_instead_of_dropping_it(client_for, owner, query):
    response = client_for(owner).get(f"/api/v1/{query}")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [query.split("?")[1].rstrip("=")]
