"""Fix instructions (DESIGN §3): each device's owner is e-mailed the step(s) they can take for its enrollment
issues, from the device page or the troubleshooting view; a large selection is sent by chunk tasks."""

from django.db import transaction
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.errors import InvalidInput
from core.models import Organization
from devices.issues import issue_help
from devices.models import Device
from enrollment import dispatch, emails
from enrollment.models import Invitation, InvitationBatch
from enrollment.services import batches


def fix_instructions_send(*, organization: Organization, devices, actor: Actor) -> dict:
    """E-mail each device's owner the step(s) they can take for its enrollment issues (DESIGN §3)."""
    sent = skipped = 0
    for device in devices:
        if device.organization_id != organization.pk:
            raise InvalidInput(gettext("Unknown device."), field="devices")
        if _fix_instructions_one(organization=organization, device=device, actor=actor):
            sent += 1
        else:
            skipped += 1
    return {"sent": sent, "skipped": skipped}


def _fix_instructions_one(*, organization: Organization, device: Device, actor: Actor,
                          batch: InvitationBatch | None = None, connection=None) -> bool | None:
    """True: sent; False: nothing to send (no active owner, or no step the employee can take); None: this
    batch already sent them (a redelivered chunk). Batch or not, as ``invitations._invite`` does with the mail."""
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
        batches.send_mail("fix_instructions", to=employee.email, connection=connection, context={
            "organization": organization, "employee": employee, "device": device, "steps": steps,
            "url": emails.enrollment_page_url(organization),
        })
    return True


def fix_instructions_send_bulk(*, organization: Organization, device_ids, actor: Actor) -> dict:
    """Fix instructions for the devices selected on the troubleshooting view: up to ``BULK_SEND_NOW_LIMIT``
    during the call (``{"sent", "skipped"}``), more queued as chunk tasks (``{"queued", "skipped", "batch"}``,
    each device's owner and issues read again when its turn comes). Other organizations' ids are ignored."""
    devices = Device.objects.for_org(organization).filter(pk__in=set(device_ids))
    if len(set(device_ids)) <= batches.BULK_SEND_NOW_LIMIT:
        return fix_instructions_send(organization=organization, devices=list(devices.select_related("assignee")
                                                                             .order_by("pk")), actor=actor)
    ids = list(devices.order_by("pk").values_list("pk", flat=True))
    batch = batches.batch_queue(organization=organization, kind=InvitationBatch.Kind.FIX_INSTRUCTIONS, ids=ids,
                                actor=actor, task=dispatch.FIX_INSTRUCTIONS_CHUNK_TASK)
    return {"queued": len(ids), "skipped": 0, "batch": batch.pk if batch else None}


def fix_instructions_send_chunk(*, organization: Organization, batch_id: int, index: int, device_ids: list[int],
                                actor: Actor) -> dict:
    """One chunk task of a fix-instructions batch; idempotent like ``invitation_send_chunk``."""

    def send_one(batch, device, connection) -> str:
        if device is None:  # deleted since it was queued
            return "skipped"
        outcome = _fix_instructions_one(organization=organization, device=device, actor=actor, batch=batch,
                                        connection=connection)
        return "already" if outcome is None else ("sent" if outcome else "skipped")

    return batches.chunk_run(organization=organization, batch_id=batch_id, index=index, ids=device_ids,
                             load=Device.objects.for_org(organization).select_related("assignee").in_bulk,
                             send_one=send_one)
