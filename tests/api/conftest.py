import pytest
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create


@pytest.fixture
def client_for(db):
    """An API client authenticated as ``user`` with a real API key (None → anonymous)."""

    def build(user, *, read_only: bool = False, keyword: str = "Bearer") -> APIClient:
        client = APIClient()
        if user is not None:
            _, plaintext = api_key_create(user=user, read_only=read_only)
            client.credentials(HTTP_AUTHORIZATION=f"{keyword} {plaintext}")
        return client

    return build
