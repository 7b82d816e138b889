"""A device held in stock until its wipe is confirmed goes to its new owner (``devices.commands``).

Separate from ``devices.commands`` because it moves the device through ``devices.services``, which itself
asks ``devices.commands`` for the wipe: the imports run one way (handover → services → commands).
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.actors import Actor
from core.audit import Phrase, Source, audit_record
from core.errors import DomainError, IllegalTransition
from core.events import phrase_fields
from devices.hooks import command_settled
from devices.models import Device, DeviceCommand
from devices.services import device_assign


def command_confirm(*, command: DeviceCommand, actor: Actor) -> dict:
    """Fleet shows the command done: confirmed, then a held device goes to its new owner."""
    with transaction.atomic():
        locked = (DeviceCommand.objects.select_for_update().select_related("device", "organization")
                  .filter(pk=command.pk, status=DeviceCommand.Status.SENT).first())
        if locked is None:
            return {"confirmed": 0, "handed_over": 0}
        locked.status, locked.confirmed_at = DeviceCommand.Status.CONFIRMED, timezone.now()
        locked.save(update_fields=["status", "confirmed_at", "updated_at"])
        audit_record(organization=locked.organization, actor=actor, event=locked.audit_event("confirmed"),
                     target=locked.device, source=Source.SYNC, after={"host": locked.fleet_host_id})
        if locked.awaits_hand_over:
            handed_over = _hand_over(locked, actor=actor)  # settles it, handed over or not
        else:
            handed_over = False
            command_settled.run(command=locked, actor=actor)
    return {"confirmed": 1, "handed_over": int(handed_over)}


def command_hand_over(*, command: DeviceCommand, actor: Actor) -> bool:
    """An admin gives a held device to its new owner now, without waiting for the wipe's confirmation."""
    with transaction.atomic():
        locked = DeviceCommand.objects.select_for_update().select_related("device", "organization").get(
            pk=command.pk, organization_id=command.organization_id)
        if not locked.awaits_hand_over:
            raise IllegalTransition(_("This device is not waiting to be handed over."))
        return _hand_over(locked, actor=actor)


def _hand_over(command: DeviceCommand, *, actor: Actor) -> bool:
    """Give the held device to the employee the wipe names; never forced over someone else. Returns True when
    handed over; otherwise the reason is kept on the command (and the offboarding decision, if any)."""
    device, target = Device.objects.get(pk=command.device_id), command.hand_over_to
    note: str | Phrase = ""
    if device.assignee_id == target.pk:
        pass  # already with its new owner (e.g. enrollment assigned it after the wipe)
    elif device.assignee_id is not None:
        note = Phrase("devices.assigned_meanwhile", {"device": str(device), "other": device.assignee.display_name})
    else:
        try:
            with transaction.atomic():
                device_assign(device=device, employee=target, actor=actor, source=command.source,
                              reason=Phrase("devices.handed_over", {"name": target.display_name}))
        except DomainError as exc:
            note = Phrase("devices.not_handed_over", {"reason": exc.message})  # the refusal, as it was worded
    if note:
        for name, value in phrase_fields("hand_over_note", note, 500).items():
            setattr(command, name, value)
        command.save(update_fields=["hand_over_note", "hand_over_note_phrase", "updated_at"])
    else:
        command.handed_over_at = timezone.now()
        command.save(update_fields=["handed_over_at", "updated_at"])
    command_settled.run(command=command, actor=actor)
    return not note
