"""A wipe whose sender was killed (issue #12 §1): nothing stays stuck, nothing is sent twice. The command was
claimed (``devices.commands.command_claim``: leased for ``SEND_LEASE``), so a redelivered task sends nothing while
the claim holds; once it lapsed, the periodic job sends it. If the dead sender's wipe had already reached Fleet,
Fleet shows it pending and the command is recorded as sent, not failed on Fleet's "already pending" refusal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices import commands
from devices import services as device_services
from devices.models import DeviceCommand
from mdm_sync import commands as sender
from mdm_sync.commands import commands_send_due
from mdm_sync.fleet import FleetClient
from tests.conftest import SIM_TOKEN, sync_now
from tests.devices.test_commands import fleet_macs, settle_and_sync
from tests.factories import EmployeeFactory


class WorkerKilled(BaseException):
    """SIGKILL in the middle of sending: nothing after this line of the worker runs."""


@pytest.fixture
def requested_wipe(connected, sim, actor, employee, django_capture_on_commit_callbacks):
    device, = fleet_macs(connected, sim)
    device = device_services.device_assign(device=device, employee=employee, actor=actor)
    bob = EmployeeFactory(organization=connected, email="bob@acme.test")
    with django_capture_on_commit_callbacks(execute=True):  # queued to the (test's) command queue, not sent
        device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)
    return DeviceCommand.objects.get(device=device)


def wipe_calls(sim, command) -> int:
    return sim.requests_log.count(("POST", f"/api/v1/fleet/hosts/{command.fleet_host_id}/wipe"))


@pytest.mark.parametrize("dies", ["before_fleet", "after_fleet_accepted"])
def test_a_sender_killed_mid_wipe_leaves_nothing_stuck_and_sends_once(connected, sim, requested_wipe, dies,
                                                                      monkeypatch):
    client = FleetClient(sim.base_url, SIM_TOKEN, retries=0, backoff=0)
    now = timezone.now()
    with monkeypatch.context() as patch:
        if dies == "before_fleet":
            patch.setattr(sender, "_send", lambda client, command: (_ for _ in ()).throw(WorkerKilled()))
        else:
            patch.setattr(commands, "command_sent", lambda *args, **kwargs: (_ for _ in ()).throw(WorkerKilled()))
        with pytest.raises(WorkerKilled):
            commands_send_due(organization=connected, client=client, now=now)
    wipe = DeviceCommand.objects.get(pk=requested_wipe.pk)
    assert (wipe.status, wipe.attempts) == ("requested", 1) and wipe.next_attempt_at == now + commands.SEND_LEASE
    reached = 1 if dies == "after_fleet_accepted" else 0
    assert wipe_calls(sim, wipe) == reached

    # A redelivered task while the dead sender's claim holds: nothing is sent.
    assert commands_send_due(organization=connected, client=client, now=now + timedelta(minutes=1))["sent"] == 0
    # The claim lapsed: the periodic job finds the command due again and sends it, once.
    later = now + commands.SEND_LEASE + timedelta(seconds=1)
    assert commands.organizations_with_due_commands(now=later) == [connected.pk]
    assert commands_send_due(organization=connected, client=client, now=later)["sent"] == 1
    wipe.refresh_from_db()
    assert (wipe.status, wipe.attempts, wipe.last_error) == ("sent", 2, "")
    # One wipe queued in Fleet either way: after a dead sender whose wipe Fleet accepted, the second is refused
    # ("Host has pending wipe request") and the host, asked, shows that wipe pending.
    assert wipe_calls(sim, wipe) == 1 + reached
    assert sim.host_json(wipe.fleet_host_id)["mdm"]["pending_action"] == "wipe"

    settle_and_sync(connected, sim)
    sync_now(connected, sim)
    wipe.refresh_from_db()
    assert wipe.status == "confirmed"
