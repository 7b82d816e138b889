"""Device commands sent to Fleet and confirmed by the sync: the wire end of ``devices.commands``.

``devices`` records a wipe or a removal from Fleet in the move that asks for it; this module sends the due
ones (one claim per command, so a redelivered task or a second worker sends nothing twice) and, as an
after-sync step, confirms what Fleet now shows done:

* a wipe: the host's ``device_status`` is ``wiped`` with nothing pending. Fleet refuses to wipe a host
  that is already wiped, so ``wiped`` seen after Fleet accepted ours is our erase; only if our copy
  already said ``wiped`` when we sent (stale facts) do we wait for a run that actually changed the device.
* a removal: the host is gone from Fleet's complete listing (the sync marks the device "not seen").

A sender killed mid-send leaves its claimed command ``requested``: the claim lapses after ``SEND_LEASE`` and the
periodic job sends it. A wipe sent again that Fleet refuses is checked against the host: a wipe already pending
there (the dead sender's, accepted before it could record it) means sent, not failed.

Fleet refusing a command (the host cannot be wiped, MDM off…) fails it with Fleet's message; Fleet
unreachable or failing keeps it ``requested`` with a backoff, and fails it after the last attempt.
"""

from contextlib import suppress
from datetime import datetime

from django.utils import timezone

from core.actors import Actor
from core.audit import Phrase
from devices import commands, handover
from devices.models import DeviceCommand, Platform
from mdm_sync.fleet_errors import FleetAuthError, FleetBadResponse, FleetError, FleetNotFound, FleetUnavailable
from mdm_sync.models import FleetConnection
from mdm_sync.services import fleet_client_for

# Apple devices enrolled in Fleet's MDM are released with "turn off MDM" before their host is deleted;
# otherwise the MDM profile stays on the device and it checks in again.
APPLE_PLATFORMS = {Platform.MACOS, Platform.IOS, Platform.IPADOS}


def _send(client, command: DeviceCommand) -> str:
    """Send one command; returns the host's state Fleet reported (for the confirmation)."""
    device = command.device
    if command.kind == DeviceCommand.Kind.WIPE:
        return client.wipe(command.fleet_host_id).device_status
    if device.platform in APPLE_PLATFORMS and device.mdm_status.startswith("On"):
        try:
            client.turn_off_mdm(command.fleet_host_id)
        except FleetNotFound:
            return "deleted"
    with suppress(FleetNotFound):  # already gone from Fleet: the release holds
        client.delete_host(command.fleet_host_id)
    return "deleted"


def _wipe_already_pending(client, command: DeviceCommand) -> str | None:
    """Fleet refused a wipe sent again: if an earlier attempt reached Fleet before its worker died, the host shows
    that wipe pending, and the command is sent (the host's state is returned), not failed."""
    if command.kind != DeviceCommand.Kind.WIPE or command.attempts < 2:
        return None
    try:
        host = client.get_host(command.fleet_host_id)
    except FleetError:
        return None
    return (host.mdm_device_status or "") if host.mdm_pending_action == "wipe" else None


def _wipe_first(command: DeviceCommand) -> str | None:
    """A removal goes after the device's wipe asked before it: Fleet must still know the host to erase it, and a
    device must not leave management unwiped. Returns "wait" (the wipe is on its way), "failed" or None."""
    if command.kind != DeviceCommand.Kind.REMOVE:
        return None
    wipe = (DeviceCommand.objects.filter(device_id=command.device_id, kind=DeviceCommand.Kind.WIPE,
                                         pk__lt=command.pk).order_by("-pk").first())
    if wipe is None or wipe.status == DeviceCommand.Status.CONFIRMED:
        return None
    return "failed" if wipe.status == DeviceCommand.Status.FAILED else "wait"


def commands_send_due(*, organization, client=None, now: datetime | None = None) -> dict:
    """Send every due command of the organization to Fleet, one by one, each recorded on its own."""
    now = now or timezone.now()
    actor = Actor.system("MDM commands")
    counts = {"sent": 0, "failed": 0, "retrying": 0, "waiting": 0}
    command_ids = commands.due_command_ids(organization=organization, now=now)
    if not command_ids:
        return counts
    connection = FleetConnection.objects.for_org(organization).first()
    own_client = None
    try:
        for command_id in command_ids:
            command = commands.command_claim(command_id, now=now)
            if command is None:
                continue
            wipe_first = _wipe_first(command)
            if wipe_first == "wait":
                commands.command_wait(command, now=now)
                counts["waiting"] += 1
                continue
            if wipe_first == "failed":
                commands.command_failed(command, actor=actor, error=Phrase("mdm_sync.wipe_first_failed"))
                counts["failed"] += 1
                continue
            if command.fleet_host_id is None:
                commands.command_failed(command, actor=actor, error=Phrase("mdm_sync.no_host_id"))
                counts["failed"] += 1
                continue
            if connection is None and client is None:
                commands.command_failed(command, actor=actor, error=Phrase("mdm_sync.not_connected"))
                counts["failed"] += 1
                continue
            try:
                if client is None:
                    client = own_client = fleet_client_for(connection, retries=1)
                state = _send(client, command)
            except (FleetUnavailable, FleetAuthError, FleetBadResponse) as exc:
                retrying = commands.command_retry_later(command, actor=actor, error=str(exc), now=now)
                counts["retrying" if retrying else "failed"] += 1
            except FleetError as exc:  # Fleet refused this command: retrying would get the same answer
                pending = _wipe_already_pending(client, command)
                if pending is not None:
                    commands.command_sent(command, actor=actor, status_at_send=pending)
                    counts["sent"] += 1
                    continue
                commands.command_failed(command, actor=actor, error=str(exc))
                counts["failed"] += 1
            else:
                commands.command_sent(command, actor=actor, status_at_send=state)
                counts["sent"] += 1
    finally:
        if own_client is not None:
            own_client.close()
    return counts


def commands_confirm_from_sync(*, organization, run=None, device_ids=(), actor: Actor | None = None) -> dict:
    """After-sync step (order 30): confirm the sent commands Fleet now shows done; held devices are handed over."""
    actor = actor or Actor.system("fleet sync")
    touched = set(device_ids or ())
    confirmed = handed_over = 0
    sent = DeviceCommand.objects.for_org(organization).filter(status=DeviceCommand.Status.SENT).select_related(
        "device")
    for command in sent:
        device = command.device
        if command.kind == DeviceCommand.Kind.WIPE:
            if device.mdm_device_status != "wiped" or device.mdm_pending_action:
                continue
            if command.status_at_send == "wiped" and device.pk not in touched:
                continue
        elif device.fleet_missing_since is None and device.fleet_host_id == command.fleet_host_id:
            continue  # Fleet still lists the host
        outcome = handover.command_confirm(command=command, actor=actor)
        confirmed += outcome["confirmed"]
        handed_over += outcome["handed_over"]
    return {"commands_confirmed": confirmed, "handed_over": handed_over}
