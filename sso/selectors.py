"""Reads of single sign-on: an organization's configuration, the one a public URL names, the accounts an e-mail
names, the organizations that require single sign-on of a user, and recent sign-in activity."""

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.models import AuditEvent, Membership
from sso.events import SSO_SOURCE
from sso.models import SsoConfig


def sso_config_for(*, organization) -> SsoConfig | None:
    return SsoConfig.objects.for_org(organization).first()


def sso_config_by_slug(*, slug: str) -> SsoConfig | None:
    """The configuration of the organization with this short name, enabled or not (None: no organization, or no
    single sign-on configured there)."""
    return SsoConfig.objects.select_related("organization").filter(organization__slug=slug).first()


def accounts_with_email(*, email: str) -> list:
    """Every cockpit account whose e-mail is ``email`` (case-insensitive), with its memberships."""
    return list(get_user_model()._default_manager.filter(email__iexact=email).prefetch_related("memberships")
                .order_by("pk"))


def sso_required_memberships(*, user) -> list[Membership]:
    """The user's memberships in organizations whose single sign-on is enabled and required."""
    return list(Membership.objects.select_related("organization").filter(
        user=user, organization__sso_config__enabled=True, organization__sso_config__sso_required=True,
    ).order_by("organization__name"))


def sso_activity(*, organization, limit: int = 20):
    """The organization's latest single sign-on events: sign-ins, refusals, break-glass, settings."""
    return AuditEvent.objects.for_org(organization).filter(
        Q(source=SSO_SOURCE) | Q(event__startswith="sso.") | Q(event__startswith="auth.sso_")
        | Q(event="auth.break_glass_sign_in") | Q(event="auth.password_refused_sso_required"))[:limit]
