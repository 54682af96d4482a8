"""Django's Redis cache backend, with one Redis client per connection pool instead of one per call.

Django builds a new ``redis.Redis`` around the pool for every cache call; the throttles make two calls
per API request, and building the client was about a tenth of a submission's Python time in the profile
of docs/benchmarks.md (section 6). A client holds no connection of its own (the pool does), and redis-py
clients may be shared between threads, so one per pool is enough.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
