"""Enrollment invitations (DESIGN §5): one employee, a selection during the request, or a batch of chunk tasks
for more; and the invitation HR's API asks for when it creates an employee."""

from django.db import transaction
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.errors import InvalidInput
from core.models import Employee, Organization
from enrollment import dispatch, emails
from enrollment.models import Invitation, InvitationBatch
from enrollment.services import batches


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
            raise InvalidInput(gettext("%(display_name)s has been offboarded and is not invited.") % {
                "display_name": locked.display_name}, field="employee")
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
        batches.send_mail("invitation", to=locked.email, connection=connection, context={
            "organization": locked.organization, "employee": locked, "url": emails.enrollment_page_url(
                locked.organization), "resent": invited_before, "detail": detail,
        })
    return invitation


def invitation_send_many(*, organization: Organization, employees, actor: Actor,
                         reason: str = Invitation.Reason.MANUAL) -> dict:
    """Invite each active employee given (offboarded ones are skipped and counted), during the call."""
    sent = skipped = 0
    for employee in employees:
        if employee.organization_id != organization.pk:
            raise InvalidInput(gettext("Unknown employee."), field="employees")
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
    if len(set(employee_ids)) <= batches.BULK_SEND_NOW_LIMIT:
        return invitation_send_many(organization=organization, employees=list(employees.order_by("pk")),
                                    actor=actor, reason=reason)
    rows = list(employees.order_by("pk").values_list("pk", "status"))
    active = [pk for pk, status in rows if status == Employee.Status.ACTIVE]
    batch = batches.batch_queue(organization=organization, kind=InvitationBatch.Kind.INVITATIONS, ids=active,
                                actor=actor, task=dispatch.INVITATION_CHUNK_TASK, extra_args=(reason,))
    return {"queued": len(active), "skipped": len(rows) - len(active), "batch": batch.pk if batch else None}


def invitation_send_chunk(*, organization: Organization, batch_id: int, index: int, employee_ids: list[int],
                          actor: Actor, reason: str) -> dict:
    """One chunk task of an invitation batch (``batches.chunk_run``: on the batch's lease, then the next chunk):
    idempotent, so a redelivered or retried chunk sends only what the first delivery did not (each invitation of
    the batch is checked under the employee's row lock)."""

    def send_one(batch, employee, connection) -> str:
        if employee is None or not employee.is_active:
            return "skipped"
        try:
            invitation = _invite(employee=employee, actor=actor, reason=reason, batch=batch, connection=connection)
        except InvalidInput:  # offboarded between the read and the lock
            return "skipped"
        return "already" if invitation is None else "sent"

    return batches.chunk_run(organization=organization, batch_id=batch_id, index=index, ids=employee_ids,
                             load=Employee.objects.for_org(organization).in_bulk, send_one=send_one)


def invite_on_create(*, employee: Employee, actor: Actor, **_kwargs) -> dict:
    """``core.hooks.employee_created`` step: HR (API) created an employee and the organization asks for it."""
    if actor.kind != "token":
        return {"invited": 0}
    organization = employee.organization  # a caller creating many (the CSV import) gives them one, loaded once
    if not organization.invite_employees_on_create:
        return {"invited": 0}
    invitation_send(employee=employee, actor=actor, reason=Invitation.Reason.ON_CREATE)
    return {"invited": 1}
