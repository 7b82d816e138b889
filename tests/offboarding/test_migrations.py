"""Offboarding's wipes became device commands: a database with wipes in it migrates forward intact."""

import pytest

from tests.migrations import migrate

BEFORE = [("devices", "0006_device_local_accounts"), ("offboarding", "0001_initial")]
AFTER = [("devices", "0007_device_commands"), ("offboarding", "0002_wipes_become_device_commands")]

pytestmark = [pytest.mark.usefixtures("scratch_database")]


def test_wipe_requests_become_device_commands_with_their_state_and_hold():
    old = migrate(BEFORE)
    Organization = old.get_model("cockpit", "Organization")
    Employee = old.get_model("cockpit", "Employee")
    Device = old.get_model("devices", "Device")
    Offboarding = old.get_model("offboarding", "Offboarding")
    Decision = old.get_model("offboarding", "OffboardingDevice")
    WipeRequest = old.get_model("offboarding", "WipeRequest")
    org = Organization.objects.create(slug="acme", name="Acme")
    lea = Employee.objects.create(organization=org, email="lea@acme.test", status="offboarded")
    bob = Employee.objects.create(organization=org, email="bob@acme.test")
    held = Device.objects.create(organization=org, name="held", fleet_host_id=11)
    failed = Device.objects.create(organization=org, name="failed", fleet_host_id=12)
    case = Offboarding.objects.create(organization=org, employee=lea, status="completed", started_by_label="t",
                                      completed_at="2026-11-30T10:00:00Z")
    held_decision = Decision.objects.create(organization=org, offboarding=case, device=held, action="reassign",
                                            reassign_to=bob, wipe=True, status="awaiting_wipe")
    failed_decision = Decision.objects.create(organization=org, offboarding=case, device=failed,
                                              action="return_to_stock", wipe=True, status="applied")
    WipeRequest.objects.create(organization=org, device=held, decision=held_decision, status="sent",
                               fleet_host_id=11, attempts=1, status_at_send="unlocked",
                               sent_at="2026-11-30T10:01:00Z")
    WipeRequest.objects.create(organization=org, device=failed, decision=failed_decision, status="failed",
                               fleet_host_id=12, attempts=6, last_error="Host is wiped.",
                               failed_at="2026-11-30T11:00:00Z")

    new = migrate(AFTER)

    Command = new.get_model("devices", "DeviceCommand")
    Decision = new.get_model("offboarding", "OffboardingDevice")
    by_device = {c.device.name: c for c in Command.objects.all()}
    assert set(by_device) == {"held", "failed"}
    held_command, failed_command = by_device["held"], by_device["failed"]
    assert (held_command.kind, held_command.status, held_command.attempts) == ("wipe", "sent", 1)
    assert held_command.status_at_send == "unlocked" and held_command.sent_at is not None
    assert held_command.hand_over_to.email == "bob@acme.test"  # the confirming sync hands it over
    assert (failed_command.status, failed_command.last_error, failed_command.hand_over_to) == (
        "failed", "Host is wiped.", None)
    assert Decision.objects.get(device__name="held").wipe_command_id == held_command.pk
    assert Decision.objects.get(device__name="failed").wipe_command_id == failed_command.pk
