"""portal.redis_cache: Django's Redis cache with one client per connection pool, shared by threads."""

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.redis_cache import RedisCache

pytestmark = pytest.mark.redis


def test_one_client_serves_every_call_and_every_thread():
    cache = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    client = cache._cache.get_client(write=True)  # noqa: SLF001
    assert cache._cache.get_client() is client  # noqa: SLF001  (one server: reads use the same pool)

    def write_and_read(n: int) -> tuple:
        cache.set_many({f"k{n}": n, f"j{n}": -n}, timeout=60)
        return cache.get_many([f"k{n}", f"j{n}"]), cache._cache.get_client() is client  # noqa: SLF001

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write_and_read, range(200)))
    assert [values for values, _ in results] == [{f"k{n}": n, f"j{n}": -n} for n in range(200)]
    assert all(same for _, same in results)
    cache.delete_many([f"{kind}{n}" for kind in "kj" for n in range(200)])
