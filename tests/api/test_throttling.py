import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_limits(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})


def test_it_throttles_a_user_with_the_error_envelope(client_for, owner, teammate, tight_limits):
    api = client_for(owner)
    statuses = [api.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/api/v1/me")
    assert refused.json()["code"] == "throttled" and "Retry-After" in refused.headers
    assert client_for(teammate).get("/api/v1/me").status_code == 200  # limits are per user


def test_it_throttles_anonymous_callers_of_public_endpoints(client_for, tight_limits):
    api = client_for(None)
    assert [api.get("/api/schema/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.redis
def test_it_keeps_throttle_counters_in_redis(client_for, owner, tight_limits, settings):
    assert settings.CACHES["default"]["BACKEND"] == "portal.redis_cache.RedisCache"  # Django's, subclassed
    client_for(owner).get("/api/v1/me")
    client = cache._cache.get_client(write=False)  # noqa: SLF001 - look at the real server
    keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*throttle_user*"))
    assert len(keys) == 1
