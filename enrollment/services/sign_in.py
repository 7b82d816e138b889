"""The employees' sign-in on the enrollment page (DESIGN §5): a one-time code or link e-mailed from a task, rate
limits that count every e-mail known or not, and the sign-in that uses the code or link once.

**Rate limits** (issue #12 §4). Code requests and code attempts are each counted per e-mail per organization and,
much higher, per client address per organization (``core.clients``: the address behind trusted proxies only, an
IPv6 client by its /64). Every key names the organization, so what one address does on one organization's page
never locks another organization's employees out, and one e-mail's lockout never blocks another e-mail. The limits
are the settings ``ENROLLMENT_SIGNIN_REQUESTS_PER_EMAIL``, ``…_REQUESTS_PER_ADDRESS``, ``…_ATTEMPTS_PER_EMAIL`` and
``…_ATTEMPTS_PER_ADDRESS``; the module's ``SIGNIN_*`` constants are their defaults.

**Lockouts are audited** in the page's organization, once per key and window (the first refused hit), with the
organization as target: ``enrollment.signin_email_locked`` names the e-mail as typed, known or not (the request reads
no employee, so the entry, the answer and the work are the same for both and tell nothing about who exists), and
``enrollment.signin_address_locked`` names the address.
"""

import hashlib
import json
import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from core import clients
from core.actors import Actor
from core.audit import audit_record
from core.crypto import SecretUnreadable, decrypt, encrypt
from core.errors import DomainError, InvalidInput
from core.models import Employee, Organization
from enrollment import dispatch, emails
from enrollment.models import Invitation, SignInToken

logger = logging.getLogger(__name__)

SIGNIN_TTL = timedelta(minutes=15)
# Defaults of the settings ENROLLMENT_<name> (cockpit/settings.py), (count, seconds):
SIGNIN_REQUESTS_PER_EMAIL = (5, 15 * 60)  # per e-mail per organization
SIGNIN_REQUESTS_PER_ADDRESS = (100, 15 * 60)  # an office behind one NAT enrolls on the same day
SIGNIN_ATTEMPTS_PER_EMAIL = (10, 15 * 60)
SIGNIN_ATTEMPTS_PER_ADDRESS = (300, 15 * 60)
SIGNIN_MAX_FAILURES_PER_TOKEN = 5
SIGNIN_PAYLOAD_MAX_AGE = 10 * 60  # seconds: a code e-mailed later than that no longer helps the person waiting
SIGNIN_MAIL_RETRIES = 4  # after the first try, backing off 5 s, 10 s, 20 s, 40 s (± jitter)
GENERIC_SIGNIN_ERROR = "This code or link is not valid, has expired, or was already used. Ask for a new one."


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def employee_actor(employee: Employee) -> Actor:
    """The employee signed in on the enrollment page, as the actor of what they do there."""
    return Actor.system(f"enrollment page, {employee.email}")


def _normalize_email(email: str) -> str:
    return (email or "").strip().lower()[:254]


def _code_hash(organization_id: int, email: str, code: str) -> str:
    return salted_hmac("enrollment.signin-code", f"{organization_id}:{email}:{code}", algorithm="sha256").hexdigest()


def _link_hash(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()


_PAGE_ACTOR = Actor.system("enrollment page")


def _limit(name: str, default: tuple[int, int]) -> tuple[int, int]:
    return getattr(settings, f"ENROLLMENT_{name}", default)


def _limited(*, organization: Organization, kind: str, email: str, client_address: str,
             per_email: tuple[int, int], per_address: tuple[int, int]) -> bool:
    """Count one ``kind`` (``request`` or ``attempt``) on the e-mail's key and on the address's key, both scoped to
    the organization; True if either is over its limit. The first refused hit of a key records the lockout."""
    bucket = clients.address_bucket(client_address)
    checks = [
        ("email", {"email": email}, per_email, clients.limit_key(f"enroll-{kind}:email", organization.pk, email)),
        ("address", {"address": bucket}, per_address,
         clients.limit_key(f"enroll-{kind}:address", organization.pk, bucket)),
    ]
    over = False
    for scope, subject, (allowed, window), key in checks:
        count = clients.hit(key, window)
        if count == allowed + 1:
            audit_record(organization=organization, actor=_PAGE_ACTOR, event=f"enrollment.signin_{scope}_locked",
                         target=organization, source="enrollment",
                         after={**subject, "kind": f"code {kind}s", "allowed": allowed, "minutes": window // 60})
        over = over or count > allowed
    return over


def signin_request(*, organization: Organization, email: str, client_address: str = "") -> None:
    """Ask for a sign-in code for this e-mail. The caller answers the same way whether the e-mail is known
    or not; the rate limits count every e-mail, known or not.

    No enumeration, not even by timing: the request does the same work for every well-formed address. It
    counts the rate limits, seals ``{organization, e-mail, time, nonce}`` with ``core.crypto`` and queues
    ``enrollment.tasks.signin_code_task`` once the transaction commits. It reads no employee and writes no
    row (but a lockout's audit entry, the same for any e-mail), so a known address costs exactly the queries,
    the time and the answer of an unknown one. The task
    (``signin_code_deliver``) looks the employee up, draws the code and link, stores their hashes and sends
    the e-mail, retrying a mail server failure a bounded number of times.

    Why the code is drawn in the task rather than in the request: drawn in the request, the token row would
    be written for known addresses only (one more INSERT, a measurable difference) unless unknown addresses
    wrote decoy rows, and the code would have to travel to the worker, encrypted but still recoverable. Drawn
    in the task, the code exists in clear only in the worker's memory and in the e-mail; the broker carries
    the address encrypted (it is personal data) and no secret at all. The employee waits for the e-mail in
    any case, so a code that exists a second later than the page costs them nothing.
    """
    email = _normalize_email(email)
    if not email or "@" not in email:
        raise InvalidInput(_("Enter your work e-mail address."), field="email")
    if _limited(organization=organization, kind="request", email=email, client_address=client_address,
                per_email=_limit("SIGNIN_REQUESTS_PER_EMAIL", SIGNIN_REQUESTS_PER_EMAIL),
                per_address=_limit("SIGNIN_REQUESTS_PER_ADDRESS", SIGNIN_REQUESTS_PER_ADDRESS)):
        raise RateLimited(_("Too many sign-in requests. Wait a few minutes and try again."))
    payload = encrypt(json.dumps({"o": organization.pk, "e": email, "t": int(time.time()), "n": secrets.token_hex(16)}))
    dispatch.enqueue_on_commit(dispatch.SIGNIN_CODE_TASK, payload)


def signin_code_deliver(*, payload: str, attempt: int = 0) -> str:
    """The sign-in e-mail, in the worker: the answer to ``signin_request``'s sealed payload.

    Returns what happened: ``sent``, ``unknown`` (no active employee of the organization has this address:
    nothing is sent), ``expired`` (the payload waited longer than ``SIGNIN_PAYLOAD_MAX_AGE``), ``already_sent``
    (a redelivered task) or ``unreadable``. A mail server error (``OSError``, which ``smtplib``'s errors are)
    is logged and raised again for the task to retry; the token of that attempt is rolled back with it, so
    no code that never reached anyone stays valid."""
    try:
        data = json.loads(decrypt(payload))
        organization_id, email, issued_at, nonce = data["o"], _normalize_email(data["e"]), data["t"], data["n"]
    except (SecretUnreadable, ValueError, KeyError, TypeError):
        logger.warning("A sign-in e-mail request could not be read (the encryption keys changed?): dropped")
        return "unreadable"
    if time.time() - issued_at > SIGNIN_PAYLOAD_MAX_AGE:
        return "expired"
    sent_key = f"enroll-signin-sent:{nonce}"
    if cache.get(sent_key):
        return "already_sent"
    organization = Organization.objects.filter(pk=organization_id).first()
    employee = organization and (Employee.objects.for_org(organization)
                                 .filter(email__iexact=email, status=Employee.Status.ACTIVE).first())
    if not employee:
        return "unknown"
    code = f"{secrets.randbelow(10**6):06d}"
    link = secrets.token_urlsafe(32)
    link_url = emails.site_url() + reverse("enroll_link", kwargs={"enroll_slug": organization.slug, "link": link})
    message = emails.build_message("signin", to=employee.email, context={
        "organization": organization, "employee": employee, "code": code, "link": link_url,
        "minutes": int(SIGNIN_TTL.total_seconds() // 60),
    })
    try:
        with transaction.atomic():
            SignInToken.objects.create(
                organization=organization, employee=employee, code_hash=_code_hash(organization.pk, email, code),
                link_hash=_link_hash(link), expires_at=timezone.now() + SIGNIN_TTL,
            )
            message.send(fail_silently=False)  # inside: a failed send takes its token with it
    except OSError as exc:
        logger.warning("The sign-in e-mail of organization %s could not be sent (attempt %d of %d): %s",
                       organization.slug, attempt + 1, SIGNIN_MAIL_RETRIES + 1, type(exc).__name__)
        raise
    cache.set(sent_key, True, SIGNIN_PAYLOAD_MAX_AGE * 2)
    return "sent"


def _complete_signin(token: SignInToken) -> Employee:
    employee = Employee.objects.get(pk=token.employee_id)
    if not employee.is_active:
        raise InvalidInput(GENERIC_SIGNIN_ERROR, field="code")
    now = timezone.now()
    token.used_at = now
    token.save(update_fields=["used_at", "updated_at"])
    # Any other open code of the employee dies with this sign-in.
    SignInToken.objects.filter(employee=employee, used_at__isnull=True).update(used_at=now)
    Invitation.objects.filter(employee=employee, used_at__isnull=True).update(used_at=now)
    audit_record(organization=employee.organization, actor=employee_actor(employee),
                 event="enrollment.signed_in", target=employee, source="enrollment")
    return employee


def signin_with_code(*, organization: Organization, email: str, code: str, client_address: str = "") -> Employee:
    email = _normalize_email(email)
    code = "".join((code or "").split())
    if _limited(organization=organization, kind="attempt", email=email, client_address=client_address,
                per_email=_limit("SIGNIN_ATTEMPTS_PER_EMAIL", SIGNIN_ATTEMPTS_PER_EMAIL),
                per_address=_limit("SIGNIN_ATTEMPTS_PER_ADDRESS", SIGNIN_ATTEMPTS_PER_ADDRESS)):
        raise RateLimited(_("Too many attempts. Wait a few minutes and ask for a new code."))
    expected = _code_hash(organization.pk, email, code)
    with transaction.atomic():
        tokens = list(
            SignInToken.objects.for_org(organization).select_for_update()
            .filter(employee__email__iexact=email, used_at__isnull=True, expires_at__gt=timezone.now(),
                    failed_attempts__lt=SIGNIN_MAX_FAILURES_PER_TOKEN)
        )
        for token in tokens:
            if constant_time_compare(token.code_hash, expected):
                return _complete_signin(token)
        for token in tokens:
            token.failed_attempts += 1
            token.save(update_fields=["failed_attempts", "updated_at"])
    raise InvalidInput(GENERIC_SIGNIN_ERROR, field="code")


def signin_with_link(*, organization: Organization, link: str) -> Employee:
    with transaction.atomic():
        token = (SignInToken.objects.for_org(organization).select_for_update()
                 .filter(link_hash=_link_hash(link or ""), used_at__isnull=True, expires_at__gt=timezone.now())
                 .first())
        if token is None:
            raise InvalidInput(GENERIC_SIGNIN_ERROR, field="link")
        return _complete_signin(token)
