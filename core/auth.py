from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from core.rowread import RowReader

# The session key of a sign-in through an organization's identity provider: the organization's id. Set by the
# ``sso`` app when the session starts; read by ``core.middleware.OrganizationMiddleware`` (the session sees only
# that organization) and by the ``mfa`` app (the identity provider answers for the second factor).
SESSION_SSO_ORGANIZATION = "_sso_organization_id"

class CockpitModelBackend(ModelBackend):
    """Django's model backend. The signed-in user is read from the database on every request (one query by
    primary key), never from a cache: a deactivation or a new password takes effect on the next request
    whatever wrote it, ``QuerySet.update`` and SQL included (the session hash check does the rest). The
    user's memberships, which every page needs too, are cached (``core.selectors.memberships_of``)."""

    _by_pk = None

    def get_user(self, user_id):
        """ModelBackend's, as one fixed statement (``core.rowread``): the user by primary key, if they may sign in."""
        reader = CockpitModelBackend._by_pk
        if reader is None:
            model = get_user_model()
            reader = CockpitModelBackend._by_pk = RowReader(model, f"t.{model._meta.pk.column} = %s")
        user = reader.first([user_id])
        return user if user is not None and self.user_can_authenticate(user) else None
