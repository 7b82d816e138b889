"""The fields that keep a service's sentence as its code arrive empty: rows written before keep their text and read
as they were, in any language."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from tests.migrations import migrate, migrate_to_newest

BEFORE = [("devices", "0008_history_put_in_use"), ("assignment", "0003_suggestionrun"),
          ("offboarding", "0002_wipes_become_device_commands")]
AFTER = [("devices", "0009_reasons_as_phrases"), ("assignment", "0004_preassignment_note_phrase"),
         ("offboarding", "0003_reasons_as_phrases")]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_rows_written_before_keep_their_text():
    migrate(BEFORE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps  # going back: the state at BEFORE itself
    try:
        Organization = old.get_model("cockpit", "Organization")
        Employee = old.get_model("cockpit", "Employee")
        Device = old.get_model("devices", "Device")
        org = Organization.objects.create(slug="acme", name="Acme")
        ada = Employee.objects.create(organization=org, email="ada@acme.test", status="offboarded")
        bob = Employee.objects.create(organization=org, email="bob@acme.test")
        device = Device.objects.create(organization=org, name="mbp", serial_number="C02OLD")
        old.get_model("devices", "DeviceHistory").objects.create(
            organization=org, device=device, action="assigned", source="csv_import", actor_label="t",
            reason="CSV import #3, line 4")
        command = old.get_model("devices", "DeviceCommand").objects.create(
            organization=org, device=device, kind="wipe", hand_over_note="Not handed over: gone.",
            last_error="Gave up after 6 attempts: HTTP 503")
        old.get_model("assignment", "PreAssignment").objects.create(
            organization=org, serial_number="C02OLD", employee=ada, source="manual", status="conflict",
            note="The device is assigned to grace@acme.test.")
        case = old.get_model("offboarding", "Offboarding").objects.create(
            organization=org, employee=ada, status="cancelled", started_by_label="t", cancel_reason="Kept")
        old.get_model("offboarding", "OffboardingDevice").objects.create(
            organization=org, offboarding=case, device=device, action="reassign", reassign_to=bob, status="hold_failed",
            note="mbp was assigned to Carol meanwhile; not handed over.", wipe_command_id=command.pk)
    finally:
        migrate(AFTER)
        migrate_to_newest()  # and whatever else is newer

    # The current models, for their readers (the historical ones have no properties).
    from assignment.models import PreAssignment
    from devices.models import DeviceCommand, DeviceHistory
    from offboarding.models import Offboarding, OffboardingDevice

    history, command = DeviceHistory.objects.get(), DeviceCommand.objects.get()
    pa, case, decision = PreAssignment.objects.get(), Offboarding.objects.get(), OffboardingDevice.objects.get()
    assert (history.reason_phrase, command.hand_over_note_phrase, command.last_error_phrase, pa.note_phrase,
            case.cancel_reason_phrase, decision.note_phrase) == ({}, {}, {}, {}, {}, {})
    with translation.override("fr"):
        assert command.readable_last_error == "Gave up after 6 attempts: HTTP 503"
        assert (history.readable_reason, command.readable_hand_over_note, pa.readable_note,
                case.readable_cancel_reason, decision.readable_note) == (
            "CSV import #3, line 4", "Not handed over: gone.", "The device is assigned to grace@acme.test.", "Kept",
            "mbp was assigned to Carol meanwhile; not handed over.")
