"""State changes of two-factor authentication, each taking the acting user.

A user's second factor is theirs, across all their organizations: an authenticator app (django-otp's
``TOTPDevice``, confirmed once the user typed one of its codes) and ten recovery codes (a ``StaticDevice`` whose
``StaticToken`` rows are each deleted when used). Every change is audited in each organization the user is a
member of, the target being the user.

A code is checked by :func:`code_verify`: six digits are the app's (a code is accepted once: django-otp keeps the
time step of the last one), anything else a recovery code. Wrong codes count per account, as wrong passwords do
(``core.clients`` counters, ``settings.LOGIN_RATE_LIMIT``); the failure that reaches the limit locks the account's
codes for the window and is audited. django-otp's own throttle (a growing delay per device after each wrong code)
answers too. Failures are recorded outside any caller's transaction: a refused code never rolls its own trace back.
"""

from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import clients
from core.actors import Actor
from core.audit import audit_record
from core.caching import invalidate
from core.errors import DomainError, IllegalTransition
from core.selectors import memberships_of
from mfa.models import MfaPolicy
from mfa.selectors import has_mfa, organizations_requiring_mfa, policy_key, recovery_device_of, totp_device_of

RECOVERY_CODES = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


class CodeRefused(DomainError):
    """A wrong, reused or expired code."""

    code = "invalid_code"

    def __init__(self, message: str, *, field: str | None = "code"):
        super().__init__(message, field=field)


class TooManyCodes(DomainError):
    """The account's codes are locked for a while after too many wrong ones."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field)


@dataclass(frozen=True)
class Verified:
    device: TOTPDevice | StaticDevice
    recovery_code: bool  # a recovery code was used (and is now spent)


def _audit_everywhere(*, user, actor: Actor, event: str, after: dict | None = None) -> None:
    """One entry in each organization the user is a member of (none when they have no membership)."""
    for membership in memberships_of(user=user):
        audit_record(organization=membership.organization, actor=actor, event=event, target=user, after=after)


def normalize_code(code: str) -> str:
    """What the user typed, without spaces or dashes, in lower case: ``"ABCD-EFGH"`` → ``"abcdefgh"``."""
    return "".join(str(code or "").split()).replace("-", "").lower()


def format_recovery_code(token: str) -> str:
    return f"{token[:4]}-{token[4:]}" if len(token) == 8 else token


def _limit(user) -> tuple[str, int, int]:
    allowed, window = settings.LOGIN_RATE_LIMIT
    return clients.limit_key("mfa-fail:account", f"user:{user.pk}"), allowed, window


def _refuse(*, user, address: str, message: str):
    """Count one wrong code against the account, audit it (and the lockout it may cause), and raise."""
    key, allowed, window = _limit(user)
    failures = clients.hit(key, window)
    actor = Actor.system("two-factor sign-in")
    with transaction.atomic():
        _audit_everywhere(user=user, actor=actor, event="mfa.verification_failed", after={"address": address})
        if failures == allowed:
            _audit_everywhere(user=user, actor=actor, event="mfa.locked",
                              after={"failures": failures, "address": address, "minutes": window // 60})
    if failures >= allowed:
        raise TooManyCodes(_("Too many wrong codes. Wait a few minutes and try again."))
    raise CodeRefused(message)


def code_verify(*, user, code: str, address: str = "") -> Verified:
    """The device of the user that accepts ``code`` (a recovery code is spent), or :class:`CodeRefused` /
    :class:`TooManyCodes`. Call it outside a transaction of yours: a refusal records itself before raising."""
    key, allowed, _window = _limit(user)
    if clients.count(key) >= allowed:
        raise TooManyCodes(_("Too many wrong codes. Wait a few minutes and try again."))
    typed = normalize_code(code)
    totp = totp_device_of(user=user)
    if totp is None:
        raise IllegalTransition(_("Two-factor authentication is not set up for this account."))
    recovery = not typed.isdigit()
    device = recovery_device_of(user=user) if recovery else totp
    if not typed:
        raise CodeRefused(_("Enter the 6-digit code from your authenticator app, or a recovery code."))
    if device is None:
        return _refuse(user=user, address=address, message=_("That code is not valid."))
    allowed_now, _details = device.verify_is_allowed()
    if not allowed_now:
        raise CodeRefused(_("Too many wrong codes in a row: wait a few seconds before the next one."))
    verified = django_otp.verify_token(user, device.persistent_id, typed)
    if verified is None:
        message = _("That recovery code is not valid, or was used already.") if recovery else _(
            "That code is not valid (or was used already): enter the current code from your authenticator app.")
        return _refuse(user=user, address=address, message=message)
    clients.reset(key)
    return Verified(device=verified, recovery_code=recovery)


def _record_use(*, user, verified: Verified) -> None:
    if verified.recovery_code:
        remaining = StaticToken.objects.filter(device=verified.device).count()
        _audit_everywhere(user=user, actor=Actor.for_user(user), event="mfa.recovery_code_used",
                          after={"remaining": remaining})


def sign_in_verify(*, user, code: str, address: str = "") -> Verified:
    """The second step of a password sign-in (or of a session that must confirm one): the code checked and the use
    audited (``mfa.verified`` for the app's code, ``mfa.recovery_code_used`` for a recovery code)."""
    verified = code_verify(user=user, code=code, address=address)
    with transaction.atomic():
        if verified.recovery_code:
            _record_use(user=user, verified=verified)
        else:
            _audit_everywhere(user=user, actor=Actor.for_user(user), event="mfa.verified",
                              after={"address": address})
    return verified


# --- enrolment ---------------------------------------------------------------------------------------------------


def totp_setup_start(*, user) -> TOTPDevice:
    """A new authenticator app for the user, unconfirmed until :func:`totp_setup_confirm` (a previous unconfirmed
    one is replaced). Refused while one is confirmed: remove it first."""
    if has_mfa(user=user):
        raise IllegalTransition(_("Two-factor authentication is already set up for your account."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def _new_recovery_codes(*, user) -> list[str]:
    """Ten new codes on the user's recovery device, the old ones deleted. The device itself is kept: a session
    confirmed with one of its codes stays confirmed."""
    device = recovery_device_of(user=user)
    if device is None:
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    device.token_set.all().delete()
    tokens = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=token) for token in tokens])
    return [format_recovery_code(token) for token in tokens]


def totp_setup_confirm(*, user, code: str, address: str = "") -> tuple[TOTPDevice, list[str]]:
    """Confirm the app being set up with one of its codes; returns it and the ten recovery codes (shown once)."""
    device = totp_device_of(user=user, confirmed=False)
    if device is None or has_mfa(user=user):
        raise IllegalTransition(_("There is no authenticator app being set up: start again."))
    typed = normalize_code(code)
    if not (typed.isdigit() and len(typed) == device.digits):
        raise CodeRefused(_("Enter the 6-digit code your authenticator app shows."))
    key, allowed, _window = _limit(user)
    if clients.count(key) >= allowed:
        raise TooManyCodes(_("Too many wrong codes. Wait a few minutes and try again."))
    if django_otp.verify_token(user, device.persistent_id, typed) is None:
        return _refuse(user=user, address=address, message=_(
            "That code is not valid: check that the app was set up with this page's code, and that the time of your "
            "phone is right."))
    clients.reset(key)
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        device.confirmed = True
        codes = _new_recovery_codes(user=user)
        _audit_everywhere(user=user, actor=Actor.for_user(user), event="mfa.enrolled")
    return device, codes


def recovery_codes_regenerate(*, user, code: str, address: str = "") -> list[str]:
    """Ten new recovery codes (the old ones stop working), given a current code."""
    verified = code_verify(user=user, code=code, address=address)
    with transaction.atomic():
        _record_use(user=user, verified=verified)
        codes = _new_recovery_codes(user=user)
        _audit_everywhere(user=user, actor=Actor.for_user(user), event="mfa.recovery_codes_regenerated")
    return codes


def _refuse_when_required(*, user) -> None:
    required = organizations_requiring_mfa(user=user)
    if required:
        names = ", ".join(organization.name for organization in required)
        raise IllegalTransition(_("Two-factor authentication cannot be turned off: %(organizations)s requires it "
                                  "of owners and admins.") % {"organizations": names})


def _delete_devices(*, user) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def mfa_remove(*, user, code: str, address: str = "") -> None:
    """Turn the user's second factor off, given a current code; refused while an organization of theirs requires
    it for their role."""
    _refuse_when_required(user=user)
    verified = code_verify(user=user, code=code, address=address)
    with transaction.atomic():
        _record_use(user=user, verified=verified)
        _delete_devices(user=user)
        _audit_everywhere(user=user, actor=Actor.for_user(user), event="mfa.removed")


def mfa_reset(*, organization, membership, actor: Actor) -> None:
    """An owner of ``organization`` removes a member's second factor (a lost phone): the member sets one up again
    at their next sign-in where it is required. Not one's own (the security page does that, with a code)."""
    user = membership.user
    if membership.organization_id != organization.pk:
        raise IllegalTransition(_("This person is not a member of this organization."))
    if actor.user is not None and actor.user.pk == user.pk:
        raise IllegalTransition(_("Change your own two-factor authentication on your security page."))
    if not (has_mfa(user=user) or TOTPDevice.objects.filter(user=user).exists()):
        raise IllegalTransition(_("%(name)s has no two-factor authentication to reset.") % {"name": user})
    with transaction.atomic():
        _delete_devices(user=user)
        _audit_everywhere(user=user, actor=actor, event="mfa.reset", after={"organization": organization.slug})


def mfa_policy_update(*, organization, actor: Actor, required: bool) -> MfaPolicy:
    """Require (or not) a second factor of the organization's owners and admins who sign in with a password.
    Turning it on is refused to someone without one: they would lock themselves out of the organization."""
    with transaction.atomic():
        policy, _created = MfaPolicy.objects.select_for_update().get_or_create(organization=organization)
        if policy.required_for_admins == required:
            return policy
        if required and actor.user is not None and not has_mfa(user=actor.user):
            raise IllegalTransition(_("Set up two-factor authentication for your own account first (your security "
                                      "page): requiring it would otherwise lock you out of this organization."),
                                    field="required_for_admins")
        before = {"required": policy.required_for_admins}
        policy.required_for_admins = required
        policy.save(update_fields=["required_for_admins", "updated_at"])
        audit_record(organization=organization, actor=actor, event="mfa.policy_changed", target=organization,
                     before=before, after={"required": required})
        transaction.on_commit(lambda: invalidate(policy_key(organization.pk)))
    invalidate(policy_key(organization.pk))
    return policy
