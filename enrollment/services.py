"""Enrollment state changes (DESIGN §5, §9): invitations, employee sign-in, installers, the enroll secret,
fix instructions and the legal-hold exemption. Automatic assignment and auto-unenrollment live in
``enrollment.autoassign`` and ``enrollment.unenroll``.

Keyword-only, one transaction each, an audit entry per change; e-mails leave after the commit.
"""

import hashlib
import json
import logging
import secrets
import time
from contextlib import contextmanager, suppress
from datetime import timedelta

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from core.actors import Actor
from core.audit import audit_record
from core.crypto import SecretUnreadable, decrypt, encrypt
from core.errors import DomainError, InvalidInput
from core.models import Employee, Organization
from devices.issues import issue_help
from devices.models import Device
from enrollment import emails
from enrollment.installers import InstallerFile, InstallerRequest, InstallerUnavailable, installer_backend
from enrollment.models import EnrollmentSettings, InstallerDownload, Invitation, InvitationBatch, SignInToken

logger = logging.getLogger(__name__)

SIGNIN_TTL = timedelta(minutes=15)
SIGNIN_REQUESTS_PER_EMAIL = (5, 15 * 60)  # (requests, seconds)
SIGNIN_REQUESTS_PER_ADDRESS = (100, 15 * 60)  # an office behind one NAT enrolls on the same day
SIGNIN_ATTEMPTS_PER_EMAIL = (10, 15 * 60)
SIGNIN_ATTEMPTS_PER_ADDRESS = (300, 15 * 60)
SIGNIN_MAX_FAILURES_PER_TOKEN = 5
SIGNIN_PAYLOAD_MAX_AGE = 10 * 60  # seconds: a code e-mailed later than that no longer helps the person waiting
SIGNIN_MAIL_RETRIES = 4  # after the first try, backing off 5 s, 10 s, 20 s, 40 s (± jitter)
BULK_SEND_NOW_LIMIT = 50  # employees or devices e-mailed during the request; more are queued as chunk tasks
BULK_CHUNK_SIZE = 100  # per task: one SMTP session, about a minute of sending
BULK_MAIL_RETRIES = 5  # per chunk, backing off 30 s, 1 min, 2 min, 4 min, 8 min (± jitter)
INSTALLER_LINK_MAX_AGE = 24 * 60 * 60
INSTALLER_LINK_SALT = "enrollment.installer-link"
GENERIC_SIGNIN_ERROR = "This code or link is not valid, has expired, or was already used. Ask for a new one."


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


def _actor_for_employee(employee: Employee) -> Actor:
    return Actor.system(f"enrollment page, {employee.email}")


# --- settings ------------------------------------------------------------------------------


def enrollment_settings_save(*, organization: Organization, actor: Actor, enroll_secret: str | None = None,
                             **fields) -> EnrollmentSettings:
    """``enroll_secret=None`` keeps the stored secret; the other fields are the package URLs and Fleet URL."""
    allowed = {"fleet_url", "package_url_macos", "package_url_windows", "package_url_linux"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"Unknown setting: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    with transaction.atomic():
        current = (EnrollmentSettings.objects.for_org(organization).select_for_update().first()
                   or EnrollmentSettings(organization=organization))
        before = {key: getattr(current, key) for key in sorted(allowed)}
        for key, value in fields.items():
            setattr(current, key, (value or "").strip())
        secret_changed = False
        if enroll_secret is not None:
            enroll_secret = enroll_secret.strip()
            if not enroll_secret:
                raise InvalidInput("The enroll secret cannot be empty.", field="enroll_secret")
            secret_changed = True
            current.enroll_secret = enroll_secret
        current.save()
        after = {key: getattr(current, key) for key in sorted(allowed)}
        changed = {k for k in after if after[k] != before[k]}
        if changed or secret_changed:
            audit_record(
                organization=organization, actor=actor, event="enrollment.settings_updated", target=organization,
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed} | ({"enroll_secret": "changed"} if secret_changed else {}),
            )
    return current


def _enrollment_settings(organization) -> EnrollmentSettings | None:
    return EnrollmentSettings.objects.for_org(organization).first()


def installer_fleet_url(organization) -> str:
    from mdm_sync.models import FleetConnection

    stored = _enrollment_settings(organization)
    if stored and stored.fleet_url:
        return stored.fleet_url
    connection = FleetConnection.objects.for_org(organization).first()
    return connection.url if connection else ""


def installers_ready(organization) -> bool:
    stored = _enrollment_settings(organization)
    return bool(stored and stored.has_enroll_secret and installer_fleet_url(organization))


# --- invitations -----------------------------------------------------------------------------


def invitation_send(*, employee: Employee, actor: Actor, reason: str = Invitation.Reason.MANUAL,
                    detail: str = "") -> Invitation:
    """E-mail the employee the link to the enrollment page; a second one is recorded as resent."""
    return _invite(employee=employee, actor=actor, reason=reason, detail=detail)


def _invite(*, employee: Employee, actor: Actor, reason: str, detail: str = "", batch: InvitationBatch | None = None,
            connection=None) -> Invitation | None:
    """One invitation. With a ``batch`` (a chunk task), an employee who already has one of that batch is skipped
    (None: a redelivered task invites nobody twice) and the e-mail leaves inside the transaction through the
    chunk's mail ``connection``: a mail server error rolls the invitation back, so the retried chunk sends it."""
    with transaction.atomic():
        locked = Employee.objects.select_for_update().get(pk=employee.pk, organization_id=employee.organization_id)
        if not locked.is_active:
            raise InvalidInput(f"{locked.display_name} has been offboarded and is not invited.", field="employee")
        if batch is not None and Invitation.objects.filter(employee=locked, batch=batch).exists():
            return None
        invited_before = Invitation.objects.for_org(locked.organization).filter(
            employee=locked, kind__in=[Invitation.Kind.INVITATION, Invitation.Kind.REINVITATION]
        ).exists()
        kind = Invitation.Kind.REINVITATION if invited_before else Invitation.Kind.INVITATION
        invitation = Invitation.objects.create(
            organization=locked.organization, employee=locked, kind=kind, reason=reason, sent_by=actor.label[:200],
            email=locked.email, detail=detail[:255], batch=batch,
        )
        audit_record(organization=locked.organization, actor=actor, event="enrollment.invitation_sent",
                     target=locked, source="enrollment", after={"kind": kind, "reason": reason, "email": locked.email})
        _mail("invitation", to=locked.email, connection=connection, context={
            "organization": locked.organization, "employee": locked, "url": emails.enrollment_page_url(
                locked.organization), "resent": invited_before, "detail": detail,
        })
    return invitation


def _mail(template: str, *, to: str, context: dict, connection=None) -> None:
    """After the commit (a request), or now through a chunk task's open mail connection (inside its transaction)."""
    if connection is None:
        emails.send_on_commit(template, to=to, context=context)
        return
    message = emails.build_message(template, to=to, context=context)
    message.connection = connection
    message.send(fail_silently=False)


def invitation_send_many(*, organization: Organization, employees, actor: Actor,
                         reason: str = Invitation.Reason.MANUAL) -> dict:
    """Invite each active employee given (offboarded ones are skipped and counted), during the call."""
    sent = skipped = 0
    for employee in employees:
        if employee.organization_id != organization.pk:
            raise InvalidInput("Unknown employee.", field="employees")
        if not employee.is_active:
            skipped += 1
            continue
        invitation_send(employee=employee, actor=actor, reason=reason)
        sent += 1
    return {"sent": sent, "skipped": skipped}


def invitation_send_bulk(*, organization: Organization, employee_ids, actor: Actor,
                         reason: str = Invitation.Reason.MANUAL) -> dict:
    """Invite a selection or everyone not enrolled. Up to ``BULK_SEND_NOW_LIMIT`` employees are invited during
    the call (``{"sent", "skipped"}``); more are queued as a batch of chunk tasks and the call answers at once
    (``{"queued", "skipped", "batch"}``). Ids of other organizations are ignored; offboarded ones are skipped."""
    employees = Employee.objects.for_org(organization).filter(pk__in=set(employee_ids))
    if len(set(employee_ids)) <= BULK_SEND_NOW_LIMIT:
        return invitation_send_many(organization=organization, employees=list(employees.order_by("pk")),
                                    actor=actor, reason=reason)
    rows = list(employees.order_by("pk").values_list("pk", "status"))
    active = [pk for pk, status in rows if status == Employee.Status.ACTIVE]
    from enrollment.tasks import invitation_chunk_task

    batch = _queue_batch(organization=organization, kind=InvitationBatch.Kind.INVITATIONS, ids=active, actor=actor,
                         queue=lambda batch_id, index, chunk, ref: invitation_chunk_task.delay(
                             organization.pk, batch_id, index, chunk, ref, reason))
    return {"queued": len(active), "skipped": len(rows) - len(active), "batch": batch.pk if batch else None}


def _queue_batch(*, organization: Organization, kind: str, ids: list[int], actor: Actor,
                 queue) -> InvitationBatch | None:
    """Record the batch and queue one task per ``BULK_CHUNK_SIZE`` ids once the transaction commits."""
    if not ids:
        return None
    chunks = [ids[start:start + BULK_CHUNK_SIZE] for start in range(0, len(ids), BULK_CHUNK_SIZE)]
    ref = actor_ref(actor)
    with transaction.atomic():
        batch = InvitationBatch.objects.create(organization=organization, kind=kind, total=len(ids),
                                               chunks=len(chunks), requested_by=actor.label[:200])
        audit_record(organization=organization, actor=actor, event="enrollment.bulk_queued", target=organization,
                     source="enrollment", after={"kind": kind, "total": len(ids), "batch": batch.pk})
        for index, chunk in enumerate(chunks):
            transaction.on_commit(lambda index=index, chunk=chunk: queue(batch.pk, index, chunk, ref))
    return batch


def invitation_send_chunk(*, organization: Organization, batch_id: int, index: int, employee_ids: list[int],
                          actor: Actor, reason: str) -> dict:
    """One chunk task of an invitation batch: idempotent, so a redelivered or retried chunk sends only what the
    first delivery did not (each invitation of the batch is checked under the employee's row lock)."""
    batch = InvitationBatch.objects.for_org(organization).filter(pk=batch_id).first()
    if batch is None:
        return {"status": "gone"}
    employees = Employee.objects.for_org(organization).in_bulk(employee_ids)
    sent = already = skipped = 0
    with _chunk_mail(batch, index) as connection:
        for employee_id in employee_ids:
            employee = employees.get(employee_id)
            if employee is None or not employee.is_active:
                skipped += 1
                continue
            try:
                invitation = _invite(employee=employee, actor=actor, reason=reason, batch=batch,
                                     connection=connection)
            except InvalidInput:  # offboarded between the read and the lock
                skipped += 1
                continue
            if invitation is None:
                already += 1
            else:
                sent += 1
    _chunk_done(batch, index, skipped)
    return {"status": "done", "sent": sent, "already": already, "skipped": skipped}


@contextmanager
def _chunk_mail(batch: InvitationBatch, index: int):
    """The chunk's one SMTP session. A mail server error is logged and raised: the task retries the chunk."""
    connection = emails.connection()
    try:
        connection.open()
        yield connection
    except OSError as exc:
        logger.warning("Chunk %d of %s batch %s (organization %s): the mail server failed (%s); the chunk is retried",
                       index, batch.kind, batch.pk, batch.organization_id, type(exc).__name__)
        raise
    finally:
        with suppress(OSError):
            connection.close()


def _chunk_done(batch: InvitationBatch, index: int, skipped: int) -> None:
    """Count a chunk once, however many times it is delivered; the last one finishes the batch."""
    with transaction.atomic():
        locked = InvitationBatch.objects.select_for_update().get(pk=batch.pk)
        if index in locked.chunks_done:
            return
        locked.chunks_done = sorted([*locked.chunks_done, index])
        locked.skipped += skipped
        if len(locked.chunks_done) >= locked.chunks:
            locked.finished_at = timezone.now()
        locked.save(update_fields=["chunks_done", "skipped", "finished_at", "updated_at"])


def actor_ref(actor: Actor) -> dict:
    """An actor as a task argument (JSON); ``actor_from_ref`` reads it back in the worker."""
    return {"kind": actor.kind, "user": getattr(actor.user, "pk", None), "token": getattr(actor.token, "pk", None),
            "job": actor.job, "label": actor.label[:200]}


def actor_from_ref(ref: dict) -> Actor:
    from django.contrib.auth import get_user_model

    from core.models import ApiToken

    if ref.get("kind") == "user":
        user = get_user_model().objects.filter(pk=ref.get("user")).first()
        if user is not None:
            return Actor.for_user(user)
    elif ref.get("kind") == "token":
        token = ApiToken.objects.filter(pk=ref.get("token")).first()
        if token is not None:
            return Actor.for_token(token)
    elif ref.get("kind") == "system":
        return Actor.system(ref.get("job") or "enrollment")
    return Actor.system(ref.get("label") or "enrollment")  # the user or token is gone since it was queued


def invite_on_create(*, employee: Employee, actor: Actor, **_kwargs) -> dict:
    """``core.hooks.employee_created`` step: HR (API) created an employee and the organization asks for it."""
    organization = Organization.objects.get(pk=employee.organization_id)
    if not organization.invite_employees_on_create or actor.kind != "token":
        return {"invited": 0}
    invitation_send(employee=employee, actor=actor, reason=Invitation.Reason.ON_CREATE)
    return {"invited": 1}


# --- sign-in ---------------------------------------------------------------------------------


def _normalize_email(email: str) -> str:
    return (email or "").strip().lower()[:254]


def _code_hash(organization_id: int, email: str, code: str) -> str:
    return salted_hmac("enrollment.signin-code", f"{organization_id}:{email}:{code}", algorithm="sha256").hexdigest()


def _link_hash(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()


def _over_limit(key: str, limit: tuple[int, int]) -> bool:
    """Count one hit on ``key``; True once more than the allowed number happened in the window."""
    allowed, window = limit
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return count > allowed


def signin_request(*, organization: Organization, email: str, client_address: str = "") -> None:
    """Ask for a sign-in code for this e-mail. The caller answers the same way whether the e-mail is known
    or not; the rate limits count every e-mail, known or not.

    No enumeration, not even by timing: the request does the same work for every well-formed address. It
    counts the rate limits, seals ``{organization, e-mail, time, nonce}`` with ``core.crypto`` and queues
    ``enrollment.tasks.signin_code_task`` once the transaction commits. It reads no employee and writes no
    row, so a known address costs exactly the queries, the time and the answer of an unknown one. The task
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
        raise InvalidInput("Enter your work e-mail address.", field="email")
    limited = [
        _over_limit(f"enroll-request:email:{organization.pk}:{email}", SIGNIN_REQUESTS_PER_EMAIL),
        _over_limit(f"enroll-request:ip:{client_address}", SIGNIN_REQUESTS_PER_ADDRESS),
    ]
    if any(limited):
        raise RateLimited("Too many sign-in requests. Wait a few minutes and try again.")
    from enrollment.tasks import signin_code_task

    payload = encrypt(json.dumps({"o": organization.pk, "e": email, "t": int(time.time()), "n": secrets.token_hex(16)}))
    transaction.on_commit(lambda: signin_code_task.delay(payload))


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
    audit_record(organization=employee.organization, actor=_actor_for_employee(employee),
                 event="enrollment.signed_in", target=employee, source="enrollment")
    return employee


def signin_with_code(*, organization: Organization, email: str, code: str, client_address: str = "") -> Employee:
    email = _normalize_email(email)
    code = "".join((code or "").split())
    limited = [
        _over_limit(f"enroll-attempt:email:{organization.pk}:{email}", SIGNIN_ATTEMPTS_PER_EMAIL),
        _over_limit(f"enroll-attempt:ip:{client_address}", SIGNIN_ATTEMPTS_PER_ADDRESS),
    ]
    if any(limited):
        raise RateLimited("Too many attempts. Wait a few minutes and ask for a new code.")
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


# --- installers ------------------------------------------------------------------------------


def installer_link_token(*, employee: Employee, platform: str, fmt: str) -> str:
    """A personal, unguessable, expiring link token (signed with the server's key)."""
    payload = {"o": employee.organization_id, "e": employee.pk, "p": platform, "f": fmt}
    return signing.dumps(payload, salt=INSTALLER_LINK_SALT, compress=True)


def installer_link_resolve(*, organization: Organization, token: str) -> tuple[Employee, str, str]:
    """The active employee, platform and format a link names; InvalidInput for anything else (the view: 404)."""
    try:
        payload = signing.loads(token, salt=INSTALLER_LINK_SALT, max_age=INSTALLER_LINK_MAX_AGE)
    except signing.BadSignature as exc:
        raise InvalidInput("Unknown or expired installer link.") from exc
    if not isinstance(payload, dict) or payload.get("o") != organization.pk:
        raise InvalidInput("Unknown or expired installer link.")
    employee = Employee.objects.for_org(organization).filter(pk=payload.get("e"), status=Employee.Status.ACTIVE).first()
    platform, fmt = payload.get("p"), payload.get("f")
    if employee is None or fmt not in {f for f, _ in installer_backend().formats(platform)}:
        raise InvalidInput("Unknown or expired installer link.")
    return employee, platform, fmt


def installer_build(*, employee: Employee, platform: str, fmt: str, client_address: str | None = None) -> InstallerFile:
    """Build the employee's installer and record the download (DESIGN §5.3)."""
    organization = employee.organization
    stored = _enrollment_settings(organization)
    fleet_url = installer_fleet_url(organization)
    if stored is None or not stored.has_enroll_secret or not fleet_url:
        raise InvalidInput("Installers are not set up yet: ask your IT team.")
    backend = installer_backend()
    request = InstallerRequest(
        organization_name=organization.name, fleet_url=fleet_url, enroll_secret=stored.enroll_secret,
        end_user_email=employee.email, platform=platform, format=fmt,
        package_url=getattr(stored, f"package_url_{platform}", ""),
    )
    try:
        built = backend.build(request)
    except InstallerUnavailable as exc:
        raise InvalidInput(str(exc)) from exc
    with transaction.atomic():
        InstallerDownload.objects.create(
            organization=organization, employee=employee, platform=platform, format=fmt, backend=backend.name,
            filename=built.filename, client_address=client_address or None,
        )
        audit_record(organization=organization, actor=_actor_for_employee(employee),
                     event="enrollment.installer_downloaded", target=employee, source="enrollment",
                     after={"platform": platform, "format": fmt, "backend": backend.name})
    return built


# --- fix instructions and legal hold -----------------------------------------------------------


def fix_instructions_send(*, organization: Organization, devices, actor: Actor) -> dict:
    """E-mail each device's owner the step(s) they can take for its enrollment issues (DESIGN §3)."""
    sent = skipped = 0
    for device in devices:
        if device.organization_id != organization.pk:
            raise InvalidInput("Unknown device.", field="devices")
        if _fix_instructions_one(organization=organization, device=device, actor=actor):
            sent += 1
        else:
            skipped += 1
    return {"sent": sent, "skipped": skipped}


def _fix_instructions_one(*, organization: Organization, device: Device, actor: Actor,
                          batch: InvitationBatch | None = None, connection=None) -> bool | None:
    """True: sent; False: nothing to send (no active owner, or no step the employee can take); None: this
    batch already sent them (a redelivered chunk). Batch or not, as ``_invite`` does with the mail."""
    steps = [help for help in issue_help(device.enrollment_issues) if help.employee]
    employee = device.assignee
    if employee is None or not employee.is_active or not steps:
        return False
    with transaction.atomic():
        if batch is not None:
            Device.objects.select_for_update().filter(pk=device.pk).first()  # one chunk at a time per device
            if Invitation.objects.filter(device=device, batch=batch).exists():
                return None
        Invitation.objects.create(
            organization=organization, employee=employee, kind=Invitation.Kind.FIX_INSTRUCTIONS,
            reason=Invitation.Reason.TROUBLESHOOTING, sent_by=actor.label[:200], email=employee.email,
            detail=f"{device}: {', '.join(h.title for h in steps)}"[:255], device=device, batch=batch,
        )
        audit_record(organization=organization, actor=actor, event="enrollment.fix_instructions_sent",
                     target=device, source="enrollment",
                     after={"employee": employee.email, "issues": [h.code for h in steps]})
        _mail("fix_instructions", to=employee.email, connection=connection, context={
            "organization": organization, "employee": employee, "device": device, "steps": steps,
            "url": emails.enrollment_page_url(organization),
        })
    return True


def fix_instructions_send_bulk(*, organization: Organization, device_ids, actor: Actor) -> dict:
    """Fix instructions for the devices selected on the troubleshooting view: up to ``BULK_SEND_NOW_LIMIT``
    during the call (``{"sent", "skipped"}``), more queued as chunk tasks (``{"queued", "skipped", "batch"}``,
    each device's owner and issues read again when its turn comes). Other organizations' ids are ignored."""
    devices = Device.objects.for_org(organization).filter(pk__in=set(device_ids))
    if len(set(device_ids)) <= BULK_SEND_NOW_LIMIT:
        return fix_instructions_send(organization=organization, devices=list(devices.select_related("assignee")
                                                                             .order_by("pk")), actor=actor)
    ids = list(devices.order_by("pk").values_list("pk", flat=True))
    from enrollment.tasks import fix_instructions_chunk_task

    batch = _queue_batch(organization=organization, kind=InvitationBatch.Kind.FIX_INSTRUCTIONS, ids=ids,
                         actor=actor, queue=lambda batch_id, index, chunk, ref: fix_instructions_chunk_task.delay(
                             organization.pk, batch_id, index, chunk, ref))
    return {"queued": len(ids), "skipped": 0, "batch": batch.pk if batch else None}


def fix_instructions_send_chunk(*, organization: Organization, batch_id: int, index: int, device_ids: list[int],
                                actor: Actor) -> dict:
    """One chunk task of a fix-instructions batch; idempotent like ``invitation_send_chunk``."""
    batch = InvitationBatch.objects.for_org(organization).filter(pk=batch_id).first()
    if batch is None:
        return {"status": "gone"}
    devices = Device.objects.for_org(organization).select_related("assignee").in_bulk(device_ids)
    sent = already = skipped = 0
    with _chunk_mail(batch, index) as connection:
        for device_id in device_ids:
            device = devices.get(device_id)
            if device is None:  # deleted since it was queued
                skipped += 1
                continue
            outcome = _fix_instructions_one(organization=organization, device=device, actor=actor, batch=batch,
                                            connection=connection)
            if outcome is None:
                already += 1
            elif outcome:
                sent += 1
            else:
                skipped += 1
    _chunk_done(batch, index, skipped)
    return {"status": "done", "sent": sent, "already": already, "skipped": skipped}


def device_set_auto_unenroll_exempt(*, device: Device, exempt: bool, actor: Actor) -> Device:
    """Legal hold: an exempt device is never purged by auto-unenrollment."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk, organization_id=device.organization_id)
        if locked.auto_unenroll_exempt == exempt:
            return locked
        locked.auto_unenroll_exempt = exempt
        locked.save(update_fields=["auto_unenroll_exempt", "updated_at"])
        audit_record(organization=locked.organization, actor=actor, event="enrollment.exemption_changed",
                     target=locked, before={"exempt": not exempt}, after={"exempt": exempt})
    return locked
