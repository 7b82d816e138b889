from django.contrib.auth.backends import ModelBackend

from core.caching import cached_read, user_key


class CachedModelBackend(ModelBackend):
    """Django's model backend, with the signed-in user read from the cache on each request.

    Saving or deleting the user replaces the entry's version (``core.apps``), so a changed password
    (the session hash check), a deactivation or a deletion is seen by the next request.
    """

    def get_user(self, user_id):
        return cached_read(user_key(user_id), lambda: super(CachedModelBackend, self).get_user(user_id))
