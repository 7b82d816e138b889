"""Per-user reads every cockpit request makes (the user's memberships), kept in the cache.

Each entry is stored with the version token its key had when it was read from the database; a change
replaces the token (``invalidate``), so an entry written by a request that read just before the change is
never served afterwards. A revoked membership therefore takes effect on the very
next request, in every process, with no time-to-live to wait for. An evicted token simply reads again.
"""

import uuid

from django.core.cache import cache

ENTRY_SECONDS = 60 * 60


def _version_key(key: str) -> str:
    return f"{key}:version"


def cached_read(key: str, load):
    """``load()``'s value, from the cache when it is current. ``None`` is never cached."""
    found = cache.get_many([_version_key(key), key])
    version = found.get(_version_key(key))
    if version is None:
        cache.add(_version_key(key), uuid.uuid4().hex, None)
        version = cache.get(_version_key(key))
    entry = found.get(key)
    if entry is not None and version is not None and entry[0] == version:
        return entry[1]
    value = load()
    if value is not None and version is not None:
        cache.set(key, (version, value), ENTRY_SECONDS)
    return value


def invalidate(key: str) -> None:
    cache.set(_version_key(key), uuid.uuid4().hex, None)


def memberships_key(user_id) -> str:
    return f"memberships:{user_id}"
