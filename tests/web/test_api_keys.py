import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.accounts.models import ApiKey
from portal.accounts.services import api_key_create
from portal.audit.models import AuditEvent
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def create(client, **fields):
    return client.post(reverse("web:api_key_list"), {"name": "laptop", **fields})


def secret_on(response) -> str:
    return re.search(r'<code class="secret">([^<]+)</code>', response.content.decode()).group(1)


def test_it_shows_a_new_key_once_and_only_its_prefix_afterwards(client, owner):
    login(client, owner)
    created = create(client)
    plaintext = secret_on(created)
    key = ApiKey.objects.get(user=owner)
    assert plaintext.startswith(f"gg_{key.prefix}_") and key.key_hash not in created.content.decode()
    again = client.get(reverse("web:api_key_list")).content.decode()
    assert plaintext not in again and key.prefix in again
    assert AuditEvent.objects.filter(action="api_key_created", target_id=key.public_id, actor=owner).exists()


def test_it_scopes_a_key_read_only(client, owner):
    login(client, owner)
    plaintext = secret_on(create(client, read_only="on"))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/organisations").status_code == 200
    refused = api.post("/api/v1/api-keys", {"name": "escalate"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["message"] == "This API key is read-only."


def test_it_revokes_a_key_and_the_api_stops_taking_it(client, owner):
    key, plaintext = api_key_create(user=owner, name="old")
    login(client, owner)
    response = client.post(reverse("web:api_key_revoke", kwargs={"public_id": key.public_id}))
    assert response["Location"] == reverse("web:api_key_list")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401
    assert AuditEvent.objects.filter(action="api_key_revoked", target_id=key.public_id, actor=owner).exists()


def test_it_lets_nobody_revoke_someone_elses_key(client, owner, outsider, staff):
    key, _ = api_key_create(user=owner)
    for other in (outsider, staff):
        login(client, other)
        assert (
            client.post(reverse("web:api_key_revoke", kwargs={"public_id": key.public_id})).status_code == 404
        )
    key.refresh_from_db()
    assert key.revoked_at is None


def test_it_lists_only_my_own_keys(client, owner, outsider):
    api_key_create(user=outsider, name="outsider's key")
    login(client, owner)
    assert "outsider&#x27;s key" not in client.get(reverse("web:api_key_list")).content.decode()


@pytest.mark.parametrize(
    "name,arguments",
    [
        ("api_key_list", {}),
        ("organisation_create", {}),
        ("logout", {}),
    ],
)
def test_it_refuses_a_form_post_without_the_csrf_token(owner, name, arguments):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse(f"web:{name}", kwargs=arguments), {"name": "x"})
    assert response.status_code == 403
    assert not ApiKey.objects.filter(user=owner).exists()


def test_it_refuses_a_login_post_without_the_csrf_token(owner):
    from tests import builders

    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("web:login"), {"username": owner.email, "password": builders.PASSWORD})
    assert response.status_code == 403


def test_it_accepts_a_form_post_with_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get(reverse("web:api_key_list")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(reverse("web:api_key_list"), {"name": "x", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert ApiKey.objects.filter(user=owner).count() == 1
