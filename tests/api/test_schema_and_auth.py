import pytest
import yaml
from django.test import Client

from portal.accounts.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_it_serves_a_schema_listing_every_v1_path_without_trailing_slash_twins():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    assert "/api/v1/allocations" in paths and "/api/v1/applications/{public_id}/decision" in paths
    assert not [p for p in paths if p.endswith("/")]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_it_serves_interactive_docs_from_its_own_static_files():
    page = Client().get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "bearer"])
def test_it_accepts_token_and_bearer_keywords(client_for, owner, keyword):
    assert client_for(owner, keyword=keyword).get("/api/v1/me").json()["email"] == owner.email


def test_it_rejects_a_revoked_or_malformed_key(owner):
    key, plaintext = api_key_create(user=owner)
    client = Client()
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 200
    api_key_revoke(api_key=key, actor=owner)
    revoked = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert revoked.status_code == 401
    assert revoked.json()["message"] == "Invalid or revoked API key."
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext[:-2]}xx").status_code == 401


def test_it_lets_a_read_only_key_read_but_not_write(client_for, owner):
    api = client_for(owner, read_only=True)
    assert api.get("/api/v1/organisations").status_code == 200
    refused = api.post(
        "/api/v1/organisations",
        {"name": "X", "org_type": "sme", "registration_number": "1234-56"},
        format="json",
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "This API key is read-only."


def test_it_shows_a_new_key_once_and_never_again(client_for, owner):
    api = client_for(owner)
    created = api.post("/api/v1/api-keys", {"name": "laptop"}, format="json").json()
    assert created["key"].startswith("gg_")
    listed = api.get("/api/v1/api-keys").content.decode()
    assert created["key"] not in listed and created["prefix"] in listed


def test_it_answers_malformed_json_with_the_error_envelope(client_for, owner):
    response = client_for(owner).generic(
        "POST", "/api/v1/organisations", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_it_refuses_an_oversized_body_cleanly(client_for, owner, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_for(owner).post(
        "/api/v1/organisations",
        {"name": "x" * 5000, "org_type": "sme", "registration_number": "1234"},
        format="json",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
