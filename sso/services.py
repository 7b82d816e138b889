"""State changes of single sign-on: the organization's configuration, a sign-in the identity provider vouched for
(the account it names, or a member created just in time), the refusals, and the password sign-in check of
organizations that require single sign-on. Each writes its audit entries.

Who the provider may sign in, for the organization whose provider it is:

* the account whose e-mail (case-insensitive) is the ID token's, member of this organization: signed in;
* no account with that e-mail: with just-in-time creation on, a new account (no usable password) and a membership
  with the configured role (never owner); otherwise refused;
* an account with that e-mail that is a member of another organization only: refused whatever just-in-time says
  (an organization's provider never signs in another tenant's user); an account that is a member of nothing
  becomes a member just in time like a new one, unless it is a platform operator (staff), which is refused.
"""

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from core.actors import Actor
from core.audit import audit_record
from core.errors import InvalidInput
from core.models import Membership
from core.services import membership_add
from sso.events import SSO_SOURCE
from sso.models import SsoConfig
from sso.oidc import SsoRefused
from sso.selectors import accounts_with_email, sso_required_memberships

logger = logging.getLogger(__name__)

SSO_ACTOR = Actor.system("single sign-on")
CONFIG_FIELDS = ("issuer", "client_id", "enabled", "sso_required", "jit_enabled", "jit_role")


# --- configuration ---------------------------------------------------------------------------


@transaction.atomic
def sso_config_save(*, organization, actor: Actor, issuer: str, client_id: str, client_secret: str | None = None,
                    enabled: bool = False, sso_required: bool = False, jit_enabled: bool = False,
                    jit_role: str = Membership.Role.VIEWER) -> SsoConfig:
    """Create or change the organization's configuration. ``client_secret`` None or empty keeps the stored one.
    The issuer is checked by discovery before this is called (``sso.forms``); this checks the rest."""
    config = SsoConfig.objects.select_for_update().filter(organization=organization).first()
    before = {key: getattr(config, key) for key in CONFIG_FIELDS} if config else {}
    config = config or SsoConfig(organization=organization)
    if jit_role == Membership.Role.OWNER or jit_role not in Membership.Role.values:
        raise InvalidInput(_("Members created on sign-in cannot be owners: choose admin, technician or viewer."),
                           field="jit_role")
    if sso_required and not enabled:
        raise InvalidInput(_("Single sign-on must be enabled to be required."), field="sso_required")
    changes = {"issuer": issuer.strip(), "client_id": client_id.strip(), "enabled": enabled,
               "sso_required": sso_required, "jit_enabled": jit_enabled, "jit_role": jit_role}
    for key, value in changes.items():
        setattr(config, key, value)
    secret_changed = bool(client_secret)
    if secret_changed:
        config.client_secret = client_secret
    if enabled and not (config.issuer and config.client_id and config.has_secret):
        raise InvalidInput(_("Enter the issuer, client ID and client secret before enabling single sign-on."),
                           field="client_secret" if not config.has_secret else "client_id")
    config.save()
    after = {key: value for key, value in changes.items() if before.get(key) != value}
    if secret_changed:
        after["client_secret"] = "changed"  # never the secret itself
    if after or not before:
        audit_record(organization=organization, actor=actor, event="sso.settings_updated", target=config,
                     source=SSO_SOURCE, before={key: before[key] for key in after if key in before}, after=after)
    return config


# --- sign-in ---------------------------------------------------------------------------------


def sso_refusal_record(*, config: SsoConfig, reason: str, detail: str = "", email: str = "", user=None) -> None:
    """Audit a refused sign-in in the configuration's organization (target: the account when one is known)."""
    audit_record(organization=config.organization, actor=SSO_ACTOR, event="auth.sso_refused",
                 target=user if user is not None else config, source=SSO_SOURCE,
                 after={"reason": reason, "detail": detail, "email": email or "—"})


def _refuse(reason: str, detail: str = "", *, user=None):
    refused = SsoRefused(reason, detail)
    refused.user = user
    return refused


def _email_of(claims: dict) -> str:
    email = str(claims.get("email") or "").strip()
    if not email or "@" not in email:
        raise _refuse("email_missing")
    if not _email_verified(claims):
        raise _refuse("email_unverified", email)
    return email


def _email_verified(claims: dict) -> bool:
    """``email_verified`` true; or, from Microsoft Entra ID, which never sends ``email_verified``, its optional claim
    ``xms_edov`` ("e-mail domain owner verified": the tenant verified the address's domain). Add ``xms_edov`` to the
    app registration's optional ID-token claims (docs/sso.md)."""
    if "email_verified" in claims:
        return claims["email_verified"] is True
    return claims.get("xms_edov") in (True, 1, "1", "true", "True")


def _new_username(email: str) -> str:
    manager = get_user_model()._default_manager
    username = email.lower()[:150]
    while manager.filter(username=username).exists():
        username = f"{email.lower()[:140]}-{get_random_string(6).lower()}"
    return username


def _jit_member(*, config: SsoConfig, email: str, claims: dict, account=None):
    """The account (created when None, with no usable password) made a member with the configured role."""
    if account is None:
        account = get_user_model()._default_manager.create_user(
            username=_new_username(email), email=email.lower(),
            first_name=str(claims.get("given_name") or "")[:150], last_name=str(claims.get("family_name") or "")[:150])
    membership_add(organization=config.organization, user=account, role=config.jit_role,
                   actor=Actor.system("single sign-on (just in time)"), source=SSO_SOURCE, details={"email": email})
    return account


def _account_for(*, config: SsoConfig, email: str, claims: dict):
    organization_id = config.organization_id
    accounts = accounts_with_email(email=email)
    here = [a for a in accounts if any(m.organization_id == organization_id for m in a.memberships.all())]
    if len(here) > 1:
        raise _refuse("ambiguous_account", email)
    if here:
        if not here[0].is_active:
            raise _refuse("account_disabled", email, user=here[0])
        return here[0]
    elsewhere = [a for a in accounts if a.memberships.all()]
    if elsewhere:
        raise _refuse("other_organization", email)
    if not config.jit_enabled:
        raise _refuse("not_a_member", email)
    if len(accounts) > 1:
        raise _refuse("ambiguous_account", email)
    if accounts and (accounts[0].is_staff or accounts[0].is_superuser):
        raise _refuse("not_a_member", _("a platform operator's account"))
    if accounts and not accounts[0].is_active:
        raise _refuse("account_disabled", email, user=accounts[0])
    return _jit_member(config=config, email=email, claims=claims, account=accounts[0] if accounts else None)


def sso_sign_in(*, config: SsoConfig, claims: dict):
    """The account the identity provider's checked claims sign in to ``config``'s organization, created just in time
    when allowed; audited (``auth.sso_login``). Refused: :class:`SsoRefused` (audit it with :func:`sso_refusal_record`).
    The caller starts the session."""
    email = _email_of(claims)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                account = _account_for(config=config, email=email, claims=claims)
                audit_record(organization=config.organization, actor=Actor.for_user(account), event="auth.sso_login",
                             target=account, source=SSO_SOURCE,
                             after={"email": email, "subject": str(claims["sub"])[:200]})
            return account
        except IntegrityError:  # the same person's other tab created the membership a moment ago: use it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# --- password sign-in ------------------------------------------------------------------------


def password_sign_in_check(*, user, request=None) -> None:
    """``core.hooks.password_sign_in`` step: a member of an organization that requires single sign-on cannot sign in
    with a password, unless they are an owner of every such organization (the break-glass path, audited)."""
    required = sso_required_memberships(user=user)
    if not required:
        return
    blocking = [m for m in required if m.role != Membership.Role.OWNER]
    actor = Actor.system("cockpit sign-in")
    with transaction.atomic():
        for membership in required:
            audit_record(organization=membership.organization, actor=actor, target=user, source=SSO_SOURCE,
                         event="auth.password_refused_sso_required" if blocking else "auth.break_glass_sign_in")
    if blocking:
        organization = blocking[0].organization
        raise ValidationError(
            _("%(organization)s requires single sign-on. Use “Sign in with single sign-on” below with the "
              "organization's short name “%(slug)s”.") % {"organization": organization.name, "slug": organization.slug},
            code="sso_required")
