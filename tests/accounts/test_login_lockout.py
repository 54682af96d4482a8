import uuid

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from portal.accounts.lockout import LOGIN_NAMESPACE
from portal.accounts.services import api_key_create
from portal.audit.models import AuditEvent
from tests import builders

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts"


@pytest.fixture(autouse=True)
def three_strikes(settings):
    settings.GPUGRANT_LOGIN_MAX_FAILURES = 3


def attempt(client, email, password, address="10.0.0.1"):
    return client.post(reverse("web:login"), {"username": email, "password": password}, REMOTE_ADDR=address)


def actions(target_id) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=target_id).values_list("action", flat=True))


def test_it_locks_an_email_and_address_out_after_too_many_failures(client, owner):
    assert LOCKED not in attempt(client, owner.email, "wrong").content.decode()
    assert LOCKED not in attempt(client, owner.email, "wrong").content.decode()
    assert LOCKED in attempt(client, owner.email, "wrong").content.decode()
    refused = attempt(client, owner.email, builders.PASSWORD)
    assert LOCKED in refused.content.decode()
    assert SESSION_KEY not in client.session
    assert actions(owner.public_id)[-5:] == [
        "login_failed",
        "login_failed",
        "login_failed",
        "login_locked_out",
        "login_refused_locked",
    ]
    assert AuditEvent.objects.filter(action="login_failed", data__address="10.0.0.1").count() == 3


def test_it_keeps_other_addresses_and_other_emails_open(owner, teammate):
    client = Client()
    for _ in range(3):
        attempt(client, owner.email, "wrong")
    assert attempt(Client(), owner.email, builders.PASSWORD, address="10.0.0.2").status_code == 302
    assert attempt(Client(), teammate.email, builders.PASSWORD).status_code == 302


def test_it_forgets_failures_after_a_successful_login(owner):
    for _ in range(2):
        attempt(Client(), owner.email, "wrong")
    assert attempt(Client(), owner.email, builders.PASSWORD).status_code == 302
    for _ in range(2):
        attempt(Client(), owner.email, "wrong")
    assert attempt(Client(), owner.email, builders.PASSWORD).status_code == 302
    assert actions(owner.public_id).count("login_succeeded") == 2
    assert "login_locked_out" not in actions(owner.public_id)


def test_it_audits_failures_for_emails_without_an_account(client):
    attempt(client, "Nobody@Example.test", "guess")
    event = AuditEvent.objects.get(action="login_failed")
    assert event.target_type == "login"
    assert event.target_id == uuid.uuid5(LOGIN_NAMESPACE, "nobody@example.test")
    assert event.data["email"] == "nobody@example.test"


def test_it_lets_staff_read_login_events_through_the_api(staff, owner):
    attempt(Client(), owner.email, "wrong")
    _, key = api_key_create(user=staff)
    response = Client().get(
        f"/api/v1/audit-events?target_type=user&target_id={owner.public_id}",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert "login_failed" in [event["action"] for event in response.json()["results"]]


@pytest.mark.redis
def test_it_shares_the_count_between_processes_through_redis(settings, owner):
    """Counters live in the configured cache; under CI that is Redis, shared by every web process."""
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    for _ in range(3):
        attempt(Client(), owner.email, "wrong")
    from django.core.cache import cache

    client = cache._cache.get_client(write=False)  # noqa: SLF001 - look at the raw keys
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    assert any(b"login-locked" in key for key in client.scan_iter(f"{prefix}:*"))


# One lockout for every way in: the Django admin's login shares the portal's counters, and so does any
# other code that checks a password through django.contrib.auth.authenticate with a request.


def admin_attempt(client, email, password, address="10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": email, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def test_the_admin_login_locks_out_after_too_many_failures(staff):
    for _ in range(3):
        assert admin_attempt(Client(), staff.email, "wrong").status_code == 200
    client = Client()
    refused = admin_attempt(client, staff.email, builders.PASSWORD)
    assert refused.status_code == 200 and LOCKED in refused.content.decode()
    assert SESSION_KEY not in client.session
    assert actions(staff.public_id)[-5:] == [
        "login_failed",
        "login_failed",
        "login_failed",
        "login_locked_out",
        "login_refused_locked",
    ]
    # Another address is not locked out.
    assert admin_attempt(Client(), staff.email, builders.PASSWORD, address="10.0.0.2").status_code == 302


def test_the_admin_login_refuses_a_pair_the_portal_locked_and_the_other_way_round(staff, owner):
    for _ in range(3):
        attempt(Client(), staff.email, "wrong")
    client = Client()
    assert LOCKED in admin_attempt(client, staff.email, builders.PASSWORD).content.decode()
    assert SESSION_KEY not in client.session

    for _ in range(3):
        admin_attempt(Client(), "OWNER@example.test", "wrong")  # any case: one account, one counter
    client = Client()
    assert LOCKED in attempt(client, owner.email, builders.PASSWORD).content.decode()
    assert SESSION_KEY not in client.session


def test_the_admin_login_clears_failures_on_success(staff):
    for _ in range(2):
        admin_attempt(Client(), staff.email, "wrong")
    assert admin_attempt(Client(), staff.email, builders.PASSWORD).status_code == 302
    for _ in range(2):
        admin_attempt(Client(), staff.email, "wrong")
    assert admin_attempt(Client(), staff.email, builders.PASSWORD).status_code == 302
    assert "login_locked_out" not in actions(staff.public_id)


def test_every_password_check_with_a_request_counts(owner, rf):
    """Any entry point that calls authenticate() with a request (DRF's BasicAuthentication, a future
    login view) is under the same lockout, because the authentication backend itself applies it."""
    from django.contrib.auth import authenticate
    from rest_framework.authentication import BasicAuthentication
    from rest_framework.exceptions import AuthenticationFailed

    request = rf.post("/", REMOTE_ADDR="10.0.0.9")
    for _ in range(3):
        assert authenticate(request, username=owner.email, password="wrong") is None
    assert authenticate(request, username=owner.email, password=builders.PASSWORD) is None
    with pytest.raises(AuthenticationFailed):
        BasicAuthentication().authenticate_credentials(owner.email, builders.PASSWORD, request)
    assert actions(owner.public_id).count("login_refused_locked") == 2


def test_no_other_password_form_is_routed():
    """The API takes keys and sessions only: no browsable-API login, no HTTP Basic."""
    from django.conf import settings
    from django.urls import Resolver404, resolve

    for path in ("/api-auth/login/", "/api/v1/auth/login/", "/accounts/password_reset/"):
        with pytest.raises(Resolver404):
            resolve(path)
    assert not any("Basic" in name for name in settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"])
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == ["rest_framework.renderers.JSONRenderer"]
