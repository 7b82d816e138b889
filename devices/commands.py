"""MDM commands on a device — a wipe, or its removal from Fleet — from the moment a move asks for one.

The one wipe pathway: every move that asks for a wipe (reassign, unassign, return to stock, archive, bulk
moves, CSV commits, offboarding's decisions) goes through ``devices.services``, which calls
:func:`command_request` inside the move's transaction, so the move and the promise to wipe commit together.
After commit ``mdm_sync`` sends the command to Fleet (the task is named, not imported: ``devices`` sits
below ``mdm_sync``) and a later sync confirms it (``devices.handover.command_confirm``). The functions
here and there are the only writers of the rows.

A removal waits for a wipe of the same device still on its way (the host must be in Fleet to erase it).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.actors import Actor
from core.audit import Phrase, audit_record
from core.dispatch import enqueue_or_log, retry_delay
from core.errors import IllegalTransition, InvalidInput
from core.events import phrase_fields
from devices.hooks import command_settled
from devices.models import MAX_COMMAND_ATTEMPTS, Device, DeviceCommand, Employee

BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)
SEND_TASK = "mdm_sync.tasks.send_device_commands"
SEND_LEASE = timedelta(minutes=5)  # a claimed command is not claimed again while its call may be running

EVENTS = {
    "wipe.sent": gettext_lazy("{actor} sent a wipe of {target} to Fleet"),
    "wipe.failed": gettext_lazy("Fleet did not wipe {target}: {after[error]}"),
    "wipe.retried": gettext_lazy("{actor} asked again to wipe {target}"),
    "wipe.confirmed": gettext_lazy("Fleet reported {target} wiped"),
    "fleet_removal.sent": gettext_lazy("{actor} asked Fleet to remove {target}"),
    "fleet_removal.failed": gettext_lazy("Fleet did not remove {target}: {after[error]}"),
    "fleet_removal.retried": gettext_lazy("{actor} asked again to remove {target} from Fleet"),
    "fleet_removal.confirmed": gettext_lazy("{target} is no longer in Fleet"),
}


def backoff(attempts: int) -> timedelta:
    """2 min, 6 min, 18 min, 54 min, 2 h 42, then 6 h between tries."""
    return retry_delay(attempts, first=BACKOFF_BASE, longest=BACKOFF_MAX)


# --- asked by a move -------------------------------------------------------------------------


def queue_command_sending(organization_id: int) -> None:
    """Ask a worker to send the organization's due commands. By task name: ``mdm_sync`` sends them and sits
    above ``devices``, so neither imports the other."""
    enqueue_or_log(SEND_TASK, organization_id)  # a broker down: the 10-minute job sends it


def command_request(*, device: Device, kind: str, actor: Actor, source: str,
                    hand_over_to: Employee | None = None) -> DeviceCommand:
    """Record a wipe or a removal from Fleet in the caller's transaction (the move holds the device's row lock and
    writes the audit entry that says it was asked), so the move and the promise commit together; it leaves for
    Fleet after commit. A command of the same kind already on its way is not asked twice (Fleet would refuse a second
    wipe): it takes the new hand-over target, if any, and is returned."""
    if kind == DeviceCommand.Kind.REMOVE and device.fleet_host_id is None:
        raise InvalidInput(_("%(device)s is not known to Fleet: there is nothing to remove.") % {"device": device},
                           field="remove_from_fleet")
    pending = (
        DeviceCommand.objects.select_for_update().filter(device=device, kind=kind, status__in=DeviceCommand.PENDING)
        .order_by("-pk").first()
    )
    if pending is not None:
        if hand_over_to is not None and pending.hand_over_to_id != hand_over_to.pk:
            pending.hand_over_to, pending.handed_over_at = hand_over_to, None
            pending.hand_over_note, pending.hand_over_note_phrase = "", {}
            pending.save(update_fields=["hand_over_to", "handed_over_at", "hand_over_note", "hand_over_note_phrase",
                                        "updated_at"])
        return pending
    command = DeviceCommand.objects.create(
        organization=device.organization, device=device, kind=kind, source=source,
        requested_by_label=actor.label[:200], fleet_host_id=device.fleet_host_id, hand_over_to=hand_over_to,
    )
    organization_id = device.organization_id
    transaction.on_commit(lambda: queue_command_sending(organization_id))
    return command


# --- sending (mdm_sync's sender calls these) -------------------------------------------------


def _due(now: datetime) -> Q:
    return Q(status=DeviceCommand.Status.REQUESTED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def due_command_ids(*, organization, now: datetime) -> list[int]:
    return list(DeviceCommand.objects.for_org(organization).filter(_due(now)).order_by("pk")
                .values_list("pk", flat=True))


def organizations_with_due_commands(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return sorted(set(DeviceCommand.objects.filter(_due(now)).values_list("organization_id", flat=True)))


def command_claim(command_id: int, *, now: datetime) -> DeviceCommand | None:
    """Take one due command for this worker: a redelivered task or a second worker finds it leased and
    leaves it alone; a worker that dies holding it lets the lease lapse, and the next run sends it."""
    with transaction.atomic():
        command = (
            DeviceCommand.objects.select_for_update(skip_locked=True).select_related("device", "organization")
            .filter(_due(now), pk=command_id).first()
        )
        if command is None:
            return None
        command.attempts += 1
        command.next_attempt_at = now + SEND_LEASE
        command.fleet_host_id = command.fleet_host_id or command.device.fleet_host_id
        command.save(update_fields=["attempts", "next_attempt_at", "fleet_host_id", "updated_at"])
    return command


def command_wait(command: DeviceCommand, *, now: datetime) -> None:
    """Not sent yet, and not counted as an attempt: it waits for another command (a wipe before a removal)."""
    command.attempts = max(command.attempts - 1, 0)
    command.next_attempt_at = now + BACKOFF_BASE
    command.save(update_fields=["attempts", "next_attempt_at", "updated_at"])


def command_sent(command: DeviceCommand, *, actor: Actor, status_at_send: str = "") -> None:
    command.status, command.last_error, command.next_attempt_at = DeviceCommand.Status.SENT, "", None
    command.last_error_phrase = {}
    command.sent_at, command.status_at_send = timezone.now(), status_at_send[:50]
    command.save(update_fields=["status", "last_error", "last_error_phrase", "next_attempt_at", "sent_at",
                                "status_at_send", "updated_at"])
    audit_record(organization=command.organization, actor=actor, event=command.audit_event("sent"),
                 target=command.device, source=command.source,
                 after={"host": command.fleet_host_id, "attempt": command.attempts})


def command_retry_later(command: DeviceCommand, *, actor: Actor, error: str, now: datetime) -> bool:
    """Fleet unreachable or failing: try again after a backoff, or fail for good after the last attempt.
    Returns True when it will be retried."""
    if command.attempts >= MAX_COMMAND_ATTEMPTS:
        command_failed(command, actor=actor, error=Phrase("devices.command_gave_up", {
            "attempts": command.attempts, "error": error}))
        return False
    command.last_error, command.last_error_phrase = error[:500], {}  # Fleet's message, verbatim
    command.next_attempt_at = now + backoff(command.attempts)
    command.save(update_fields=["last_error", "last_error_phrase", "next_attempt_at", "updated_at"])
    return True


def command_failed(command: DeviceCommand, *, actor: Actor, error: str | Phrase) -> None:
    """Fleet refused (or we gave up): the command fails with the reason; a held hand-over fails with it.
    ``error``: Fleet's message as it came, or our own sentence (a ``Phrase``, Fleet's message among its parameters),
    kept as its code too so the device page reads it in the reader's language."""
    with transaction.atomic():
        command.status, command.next_attempt_at = DeviceCommand.Status.FAILED, None
        for name, value in phrase_fields("last_error", error, 500).items():
            setattr(command, name, value)
        command.failed_at = timezone.now()
        command.save(update_fields=["status", "last_error", "last_error_phrase", "next_attempt_at", "failed_at",
                                    "updated_at"])
        audit_record(organization=command.organization, actor=actor, event=command.audit_event("failed"),
                     target=command.device, source=command.source,
                     after={"error": error if isinstance(error, Phrase) else command.last_error,
                            "attempts": command.attempts})
        command_settled.run(command=command, actor=actor)


def command_retry(*, command: DeviceCommand, actor: Actor) -> DeviceCommand:
    """An admin asks again for a failed command (e.g. after fixing the device in Fleet); sent after commit."""
    with transaction.atomic():
        locked = DeviceCommand.objects.select_for_update().select_related("device", "organization").get(
            pk=command.pk, organization_id=command.organization_id)
        if locked.status != DeviceCommand.Status.FAILED:
            raise IllegalTransition(_("This command is %(status)s; only a failed one is sent again.")
                                    % {"status": locked.get_status_display().lower()})
        before = {"status": locked.status, "error": locked.last_error}
        locked.status, locked.attempts, locked.next_attempt_at, locked.failed_at = (
            DeviceCommand.Status.REQUESTED, 0, None, None)
        locked.fleet_host_id = locked.device.fleet_host_id or locked.fleet_host_id
        locked.save(update_fields=["status", "attempts", "next_attempt_at", "failed_at", "fleet_host_id",
                                   "updated_at"])
        audit_record(organization=locked.organization, actor=actor, event=locked.audit_event("retried"),
                     target=locked.device, source=locked.source, before=before, after={"status": locked.status})
        organization_id = locked.organization_id
        transaction.on_commit(lambda: queue_command_sending(organization_id))
    return locked
