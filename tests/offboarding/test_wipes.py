"""Offboarding's wipes through the device commands, against the Fleet simulator: sent after commit, refused →
failed alone, confirmed by a later sync, retried with backoff when Fleet is unreachable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent, Employee
from devices import commands
from devices import services as device_services
from devices.models import MAX_COMMAND_ATTEMPTS, AvailabilityStatus, Device, DeviceCommand
from mdm_sync import tasks
from mdm_sync.commands import commands_send_due
from mdm_sync.fleet import FleetUnavailable, MdmActionResult
from mdm_sync.hooks import after_sync
from offboarding import services
from offboarding.models import Offboarding, OffboardingDevice
from tests.conftest import sync_now
from tests.factories import DeviceFactory

pytestmark = pytest.mark.usefixtures("commands_run_now")


def _fleet_devices(org, sim, n):
    """``n`` synced devices whose Fleet hosts are healthy Macs (Fleet accepts to wipe them)."""
    assert sync_now(org, sim).status == "succeeded"
    healthy = sim.ids_in_situation("healthy")
    devices = list(Device.objects.for_org(org).filter(fleet_host_id__in=healthy, platform="macos")
                   .order_by("fleet_host_id")[:n])
    assert len(devices) == n
    return devices


def _give(devices, employee, actor):
    return [device_services.device_assign(device=d, employee=employee, actor=actor) for d in devices]


def _offboard(org, employee, actor, decisions, django_capture_on_commit_callbacks):
    case = services.offboarding_start(organization=org, employee=employee, actor=actor, decisions=decisions)
    with django_capture_on_commit_callbacks(execute=True):
        services.offboarding_complete(offboarding=case, actor=actor)
    return case


def test_the_after_sync_step_is_registered_at_order_30():
    assert "mdm_sync.command_confirmation" in after_sync.names
    assert any(s.order == 30 and s.name == "mdm_sync.command_confirmation" for s in after_sync._steps)


def test_wipe_is_sent_after_commit_and_confirmed_by_a_later_sync(connected, sim, actor, leaver, bob,
                                                                  django_capture_on_commit_callbacks):
    device, = _give(_fleet_devices(connected, sim, 1), leaver, actor)
    _offboard(connected, leaver, actor, [{"device": device.pk, "action": "return_to_stock", "wipe": True}],
              django_capture_on_commit_callbacks)

    wipe = DeviceCommand.objects.get(device=device)
    assert wipe.status == DeviceCommand.Status.SENT and wipe.attempts == 1
    assert wipe.fleet_host_id == device.fleet_host_id
    assert ("POST", f"/api/v1/fleet/hosts/{device.fleet_host_id}/wipe") in sim.requests_log

    # First sync: Fleet shows the wipe pending (the host has not checked in yet): still sent.
    sync_now(connected, sim)
    device.refresh_from_db()
    wipe.refresh_from_db()
    assert device.mdm_pending_action == "wipe"
    assert wipe.status == DeviceCommand.Status.SENT
    # The next sync sees the host wiped: confirmed, with its audit entry.
    run = sync_now(connected, sim)
    device.refresh_from_db()
    wipe.refresh_from_db()
    assert device.mdm_device_status == "wiped"
    assert wipe.status == DeviceCommand.Status.CONFIRMED and wipe.confirmed_at
    assert run.follow_ups["mdm_sync.command_confirmation"] == {"ok": True, "commands_confirmed": 1, "handed_over": 0}
    assert AuditEvent.objects.for_target(device).filter(event="wipe.confirmed").exists()


def test_a_wipe_fleet_refuses_fails_with_its_reason_and_nothing_else_is_rolled_back(
        connected, sim, actor, leaver, bob, django_capture_on_commit_callbacks):
    refused, accepted, handed = _give(_fleet_devices(connected, sim, 3), leaver, actor)
    # Fleet refuses to erase a personal (BYOD) enrollment.
    sim.update_host(refused.fleet_host_id, mdm={"enrollment_status": "On (personal)"})
    case = _offboard(connected, leaver, actor, [
        {"device": refused.pk, "action": "return_to_stock", "wipe": True},
        {"device": accepted.pk, "action": "remove_from_fleet", "wipe": True},
        {"device": handed.pk, "action": "reassign", "reassign_to": bob.pk, "wipe": True},
    ], django_capture_on_commit_callbacks)

    failed = DeviceCommand.objects.get(device=refused)
    assert failed.status == DeviceCommand.Status.FAILED and failed.failed_at
    assert "Personal (BYOD) hosts cannot be wiped." in failed.last_error
    assert AuditEvent.objects.for_target(refused).filter(event="wipe.failed").exists()
    assert {w.status for w in DeviceCommand.objects.exclude(pk=failed.pk)} == {DeviceCommand.Status.SENT}
    # Everything else stands: the employee, each device move, the case.
    leaver.refresh_from_db()
    case.refresh_from_db()
    for device in (refused, accepted, handed):
        device.refresh_from_db()
    assert leaver.status == Employee.Status.OFFBOARDED and case.status == Offboarding.Status.COMPLETED
    assert refused.availability_status == AvailabilityStatus.IN_STOCK
    assert accepted.availability_status == AvailabilityStatus.ARCHIVED
    assert handed.assignee == bob
    # A failed wipe is not retried by the job (Fleet would answer the same)...
    assert tasks.retry_device_commands() == {"queued": 0}
    # ...until an admin asks again, e.g. after fixing the host in Fleet.
    sim.update_host(refused.fleet_host_id, mdm={"enrollment_status": "On (automatic)"})
    with django_capture_on_commit_callbacks(execute=True):
        commands.command_retry(command=failed, actor=actor)
    failed.refresh_from_db()
    assert failed.status == DeviceCommand.Status.SENT and failed.last_error == ""


class FlakyFleet:
    """A FleetClient stand-in: unavailable for the first ``failures`` calls, then accepting."""

    def __init__(self, failures):
        self.failures, self.calls = failures, []

    def wipe(self, host_id):
        self.calls.append(host_id)
        if len(self.calls) <= self.failures:
            raise FleetUnavailable("Fleet kept failing on POST /wipe: HTTP 503")
        return MdmActionResult(device_status="unlocked", pending_action="wipe")


def test_unreachable_fleet_is_retried_with_backoff_then_sent(org, actor, leaver, freeze):
    now = freeze(timezone.now())
    device = DeviceFactory(organization=org, fleet_host_id=4242)
    device_services.device_assign(device=device, employee=leaver, actor=actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    services.offboarding_complete(offboarding=case, actor=actor)  # (no commit here: sent by hand below)
    fleet = FlakyFleet(failures=2)

    assert commands_send_due(organization=org, client=fleet, now=now) == {
        "sent": 0, "failed": 0, "retrying": 1, "waiting": 0}
    wipe = DeviceCommand.objects.get()
    assert wipe.status == DeviceCommand.Status.REQUESTED and wipe.attempts == 1 and "503" in wipe.last_error
    assert wipe.next_attempt_at == now + timedelta(minutes=2)
    # Not due yet: nothing is sent.
    assert commands_send_due(organization=org, client=fleet, now=now + timedelta(minutes=1))["retrying"] == 0
    assert len(fleet.calls) == 1
    commands_send_due(organization=org, client=fleet, now=now + timedelta(minutes=2))
    wipe.refresh_from_db()
    assert wipe.attempts == 2 and wipe.next_attempt_at == now + timedelta(minutes=2) + timedelta(minutes=6)
    later = now + timedelta(minutes=8)
    assert commands_send_due(organization=org, client=fleet, now=later)["sent"] == 1
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.SENT and wipe.attempts == 3


def test_a_wipe_gives_up_after_the_last_attempt(org, actor, leaver):
    device = DeviceFactory(organization=org, fleet_host_id=4243)
    device_services.device_assign(device=device, employee=leaver, actor=actor)
    services.offboarding_complete(
        offboarding=services.offboarding_start(organization=org, employee=leaver, actor=actor), actor=actor)
    DeviceCommand.objects.update(attempts=MAX_COMMAND_ATTEMPTS - 1)
    counts = commands_send_due(organization=org, client=FlakyFleet(failures=99))
    wipe = DeviceCommand.objects.get()
    assert counts["failed"] == 1 and wipe.status == DeviceCommand.Status.FAILED
    assert wipe.last_error.startswith(f"Gave up after {MAX_COMMAND_ATTEMPTS} attempts")


def test_a_device_unknown_to_fleet_fails_with_a_clear_reason(org, actor, leaver, django_capture_on_commit_callbacks):
    [device] = [device_services.device_assign(device=DeviceFactory(organization=org), employee=leaver, actor=actor)]
    _offboard(org, leaver, actor, [{"device": device.pk, "action": "return_to_stock", "wipe": True}],
              django_capture_on_commit_callbacks)
    wipe = DeviceCommand.objects.get()
    assert wipe.status == DeviceCommand.Status.FAILED and "not known to Fleet" in wipe.last_error


def test_a_claimed_wipe_is_not_sent_twice(org, actor, leaver):
    device = DeviceFactory(organization=org, fleet_host_id=4244)
    device_services.device_assign(device=device, employee=leaver, actor=actor)
    services.offboarding_complete(
        offboarding=services.offboarding_start(organization=org, employee=leaver, actor=actor), actor=actor)
    wipe = DeviceCommand.objects.get()
    now = timezone.now()
    assert commands.command_claim(wipe.pk, now=now) is not None
    assert commands.command_claim(wipe.pk, now=now) is None  # a redelivered task finds it leased
    assert commands_send_due(organization=org, client=FlakyFleet(0), now=now) == {
        "sent": 0, "failed": 0, "retrying": 0, "waiting": 0}


def test_retry_job_queues_organizations_with_due_wipes(org, actor, leaver, monkeypatch):
    device = DeviceFactory(organization=org, fleet_host_id=4245)
    device_services.device_assign(device=device, employee=leaver, actor=actor)
    services.offboarding_complete(
        offboarding=services.offboarding_start(organization=org, employee=leaver, actor=actor), actor=actor)
    queued = []
    monkeypatch.setattr(tasks.send_device_commands, "delay", queued.append)
    assert tasks.retry_device_commands() == {"queued": 1} and queued == [org.pk]
    DeviceCommand.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert tasks.retry_device_commands() == {"queued": 0}


def test_hold_until_wipe_hands_over_after_the_sync_confirms(connected, sim, actor, leaver, bob,
                                                           django_capture_on_commit_callbacks):
    connected.offboarding_hold_until_wipe = True
    connected.save()
    device, = _give(_fleet_devices(connected, sim, 1), leaver, actor)
    case = _offboard(connected, leaver, actor, [{"device": device.pk, "action": "reassign", "reassign_to": bob.pk}],
                     django_capture_on_commit_callbacks)
    device.refresh_from_db()
    assert device.assignee is None and device.availability_status == AvailabilityStatus.IN_STOCK
    sim.settle_device_actions()
    run = sync_now(connected, sim)
    device.refresh_from_db()
    assert device.assignee == bob
    assert case.decisions.get().status == OffboardingDevice.Status.APPLIED
    assert run.follow_ups["mdm_sync.command_confirmation"]["handed_over"] == 1


