"""The cache shares its Redis database with the Celery broker (and maybe other deployments): clearing it removes its
own keys only."""

import os

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")


def test_clear_removes_this_caches_keys_and_nothing_else():
    client = redis.Redis.from_url(settings.REDIS_URL)
    neighbour = f"not-{settings.CACHES['default']['KEY_PREFIX']}:queue"
    client.set(neighbour, "a queued task")
    try:
        cache.set("counts", 42)
        cache.set_many({"a": 1, "b": 2})
        assert cache.get("counts") == 42

        assert cache.clear() is True

        assert cache.get_many(["counts", "a", "b"]) == {}
        assert client.get(neighbour) == b"a queued task"
    finally:
        client.delete(neighbour)
