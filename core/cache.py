"""A Redis cache that degrades instead of failing: with Redis unreachable, reads miss and writes are dropped, each
logged (at most once a minute per process), so pages and the API fall back to the database and keep answering.

Everything the product caches can be read again from the database (counts, memberships, filter options), and
sessions use the ``cached_db`` backend (written through to the database). What a miss costs is time, not data.
Work that needs the broker itself (a sync now, e-mails) answers 503 instead (``core.dispatch``).
"""

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_LOG_EVERY_SECONDS = 60


class ResilientRedisCache(RedisCache):
    _last_logged = 0.0

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
        try:
            return super().clear()
        except UNREACHABLE as exc:
            return self._degraded("clear", exc, False)
