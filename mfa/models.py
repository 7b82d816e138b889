"""What two-factor authentication keeps beside django-otp's devices.

A user's second factor is per user, not per organization: django-otp's ``TOTPDevice`` (the authenticator app,
``confirmed`` once the user typed a code from it) and ``StaticDevice`` with its ``StaticToken`` rows (the recovery
codes, each usable once). ``MfaPolicy`` is the organization's side: whether its owners and admins must use one.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MfaPolicy(models.Model):
    """One per organization, made the first time its setting is saved (none: not required)."""

    organization = models.OneToOneField("cockpit.Organization", on_delete=models.CASCADE, related_name="mfa_policy")
    required_for_admins = models.BooleanField(
        default=False, verbose_name=_("Require two-factor authentication for owners and admins"),
        help_text=_("Owners and admins who sign in with a password must confirm each sign-in with an "
                    "authenticator app before any page of this organization; single sign-on is exempt."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "two-factor policy"
        verbose_name_plural = "two-factor policies"

    def __str__(self):
        return f"Two-factor policy of {self.organization}"
