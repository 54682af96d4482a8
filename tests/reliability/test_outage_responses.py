"""While the database is unreachable every request answers 503 with Retry-After, never a 500.

The statement that fails is the first one each request makes, wherever it is made: API authentication
inside DRF, or the session and user lookups of the web pages' middleware.
"""

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.outages import RETRY_AFTER_S

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down():
    """down() makes every statement fail as a refused connection; undone before the ledger check runs."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    with pytest.MonkeyPatch.context() as patch:

        def down():
            patch.setattr("django.db.backends.utils.CursorWrapper.execute", refuse)
            patch.setattr("django.db.backends.utils.CursorWrapper.executemany", refuse)

        yield down


def test_it_answers_an_api_request_503_in_the_error_envelope(owner, allocation, database_down):
    client = APIClient()
    _, key = api_key_create(user=owner)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    database_down()
    for method, path in [("get", "/api/v1/jobs"), ("post", "/api/v1/jobs"), ("get", "/api/v1/allocations")]:
        response = getattr(client, method)(path, {}, format="json")
        assert response.status_code == 503, (path, response.content)
        assert response["Retry-After"] == str(RETRY_AFTER_S)
        body = response.json()
        assert body["code"] == "service_unavailable" and body["extra"] == {"fields": {}} and body["message"]


def test_it_answers_a_web_page_503_when_middleware_cannot_reach_the_database(owner, database_down):
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    database_down()
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_S)
    assert b"Temporarily unavailable" in response.content


def test_it_still_answers_500_for_other_errors(owner):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    client = Client(raise_request_exception=False)
    client.force_login(owner)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.backends.utils.CursorWrapper.execute", broken)
        response = client.get("/")
    assert response.status_code == 500
