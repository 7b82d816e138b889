"""Where two-factor authentication connects to the apps below it, called once from ``MfaConfig.ready``."""

from django.db.models.signals import post_delete, post_save

from core.audit import register_events
from core.caching import invalidate
from mfa.events import EVENTS
from mfa.models import MfaPolicy
from mfa.selectors import policy_key


def _policy_changed(sender, instance, **kwargs):
    """Cache invalidation only: whoever wrote the policy (the service, the admin, a fixture), every page of the
    organization reads the new one (``mfa.selectors.mfa_required``)."""
    invalidate(policy_key(instance.organization_id))


def connect() -> None:
    register_events(EVENTS)
    for signal in (post_save, post_delete):
        signal.connect(_policy_changed, sender=MfaPolicy, dispatch_uid=f"mfa-policy-{signal}")
