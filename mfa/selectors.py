"""Reads of two-factor authentication that more than one caller needs."""

from django.db.models import Count, Exists, OuterRef, Q
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.caching import cached_read
from core.models import Membership
from core.selectors import memberships_of
from mfa.models import MfaPolicy

# The roles an organization's policy applies to.
POLICY_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def policy_key(organization_id) -> str:
    return f"mfa-policy:{organization_id}"


def mfa_required(*, organization) -> bool:
    """Whether the organization requires a second factor of its owners and admins; from the cache (every page of
    the organization asks), invalidated by ``mfa.services.mfa_policy_update``."""
    return cached_read(policy_key(organization.pk), lambda: MfaPolicy.objects.filter(
        organization=organization, required_for_admins=True).exists())


def mfa_policy_for(*, organization) -> MfaPolicy:
    """The organization's policy, unsaved with the defaults when none was ever saved."""
    return MfaPolicy.objects.filter(organization=organization).first() or MfaPolicy(organization=organization)


def totp_device_of(*, user, confirmed: bool = True) -> TOTPDevice | None:
    """The user's authenticator app (confirmed), or the one being set up (``confirmed=False``)."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).order_by("-pk").first()


def recovery_device_of(*, user) -> StaticDevice | None:
    return StaticDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def has_mfa(*, user) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def organizations_requiring_mfa(*, user) -> list:
    """The organizations of the user whose policy requires a second factor for the user's role there."""
    return [membership.organization for membership in memberships_of(user=user)
            if membership.role in POLICY_ROLES and mfa_required(organization=membership.organization)]


def policy_members(*, organization):
    """The organization's owners and admins (whom the policy concerns), and any other member who set up a second
    factor, each with ``has_mfa`` and ``recovery_codes`` (left), owners first."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(has_mfa=Exists(confirmed),
                  recovery_codes=Count("user__staticdevice__token_set", distinct=True))
        .filter(Q(role__in=POLICY_ROLES) | Q(has_mfa=True))
        .order_by("-role", "user__username")
    )


def organization_member(*, organization, pk) -> Membership | None:
    """A member of the organization by membership id, or None (another organization's is not found)."""
    return Membership.objects.select_related("user").filter(organization=organization, pk=pk).first()
