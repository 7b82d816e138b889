"""A Redis cache that degrades instead of failing: with Redis unreachable, reads miss and writes are dropped, each
logged (at most once a minute per process), so pages and the API fall back to the database and keep answering.

Everything the product caches can be read again from the database (counts, memberships, filter options), and
sessions use the ``cached_db`` backend (written through to the database). What a miss costs is time, not data.
Work that needs the broker itself (a sync now, e-mails) answers 503 instead (``core.dispatch``).
"""

import logging
import re
import time

import redis
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_LOG_EVERY_SECONDS = 60


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, degrading instead of failing, whose :meth:`clear` removes only its own keys."""

    _last_logged = 0.0

    def __init__(self, server, params):
        super().__init__(server, params)
        self._location = (re.split("[;,]", server) if isinstance(server, str) else list(server))[0]  # the primary

    def _degraded(self, operation: str, exc: Exception, fallback):
        now = time.monotonic()
        if now - ResilientRedisCache._last_logged > _LOG_EVERY_SECONDS:
            ResilientRedisCache._last_logged = now
            logger.error("Cache unavailable (%s: %s): serving from the database", operation, exc)
        return fallback

    def add(self, *args, **kwargs):
        try:
            return super().add(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("add", exc, False)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            return self._degraded("get", exc, default)

    def set(self, *args, **kwargs):
        try:
            return super().set(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("set", exc, None)

    def touch(self, *args, **kwargs):
        try:
            return super().touch(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("touch", exc, False)

    def delete(self, *args, **kwargs):
        try:
            return super().delete(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("delete", exc, False)

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            return self._degraded("get_many", exc, {})

    def has_key(self, *args, **kwargs):
        try:
            return super().has_key(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("has_key", exc, False)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as exc:
            return self._degraded("incr", exc, delta)

    def set_many(self, *args, **kwargs):
        try:
            return super().set_many(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("set_many", exc, [])

    def delete_many(self, *args, **kwargs):
        try:
            return super().delete_many(*args, **kwargs)
        except UNREACHABLE as exc:
            return self._degraded("delete_many", exc, None)

    def clear(self):
        """Delete this cache's keys (its ``KEY_PREFIX``), not the whole Redis database: Django's own ``clear`` runs
        ``FLUSHDB``, which would also drop the Celery queues and every other deployment's keys sharing it."""
        if not self.key_prefix:
            return self._guarded("clear", super().clear, False)
        return self._guarded("clear", self._delete_own_keys, False)

    def _delete_own_keys(self) -> bool:
        client = redis.Redis.from_url(self._location, socket_connect_timeout=2, socket_timeout=5)
        try:
            batch = []
            for key in client.scan_iter(match=f"{self.key_prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
        finally:
            client.close()
        return True

    def _guarded(self, operation: str, function, fallback):
        try:
            return function()
        except UNREACHABLE as exc:
            return self._degraded(operation, exc, fallback)
