"""Credentials at rest, secrets from the environment, per-user rate limits and request size limits."""

import re
from pathlib import Path

import pytest
from django.conf import global_settings
from django.contrib.auth.hashers import identify_hasher
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from portal.accounts.models import ApiKey
from portal.accounts.services import api_key_create, user_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


def test_it_hashes_passwords_with_django_s_default_slow_hasher(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # tests use MD5 for speed only
    user = user_create(email="hash@example.test", password="a-long-unusual-passphrase")
    assert "a-long-unusual-passphrase" not in user.password
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"
    settings_source = (ROOT / "portal/settings.py").read_text()
    assert "PASSWORD_HASHERS" not in settings_source, "the product keeps Django's default hashers"


def test_it_keeps_only_a_digest_of_each_api_key(owner):
    key, plaintext = api_key_create(user=owner)
    stored = ApiKey.objects.filter(pk=key.pk).values()[0]
    assert plaintext not in str(stored)
    assert re.fullmatch(r"[0-9a-f]{64}", stored["key_hash"])


def test_it_reads_every_secret_from_the_environment():
    source = (ROOT / "portal/settings.py").read_text()
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_HOST_PASSWORD"):
        assert re.search(rf'os\.environ(\.get)?\(\s*"{name}"', source), name
    # No literal credentials in settings: every password, key or token is read, never written down.
    assert not re.search(r'(PASSWORD|SECRET|TOKEN)\w*\s*=\s*"[^"]+"', source)


def test_it_counts_a_users_rate_limit_across_all_their_keys(owner, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    keys = [api_key_create(user=owner)[1] for _ in range(2)]
    statuses = [
        Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {keys[i % 2]}").status_code for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/applications", "/api/v1/usage"])
def test_it_refuses_a_too_large_json_body_with_413_in_the_envelope(owner, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    _, key = api_key_create(user=owner)
    body = '{"name": "' + "x" * 20_000 + '"}'
    response = Client().post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    if path == "/api/v1/usage":
        assert response.status_code == 401  # a user's key: refused before the body is read
        return
    assert response.status_code == 413
    assert response.json() == {
        "message": "The request body is too large.",
        "code": "request_too_large",
        "extra": {"fields": {}},
    }


def test_it_refuses_a_node_agents_too_large_batch_with_413(settings):
    from scheduler.node_keys import node_key_create

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    _, key = node_key_create(node="node-a")
    body = '{"records": [' + ",".join(['{"id": "' + "x" * 100 + '"}'] * 200) + "]}"
    response = Client().post(
        "/api/v1/usage", body, content_type="application/json", HTTP_AUTHORIZATION=f"Node {key}"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
