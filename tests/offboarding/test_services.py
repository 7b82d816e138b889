"""Offboarding services: drafting, decisions, completion, cancel, hold until wipe."""

import pytest
from django.utils import translation

from core.audit import Source
from core.errors import IllegalTransition, InvalidInput
from core.hooks import employee_offboarded
from core.models import AuditEvent, Employee
from devices import services as device_services
from devices.models import AssignmentStatus, AvailabilityStatus, Device, DeviceCommand, DeviceHistory
from mdm_sync.commands import commands_confirm_from_sync
from offboarding import services
from offboarding.models import Offboarding, OffboardingDevice
from tests.factories import EmployeeFactory
from tests.offboarding.conftest import hand

EXPECTED = {
    "return_to_stock": (AvailabilityStatus.IN_STOCK, AssignmentStatus.TO_ASSIGN,
                        DeviceHistory.Action.RETURNED_TO_STOCK),
    "remove_from_fleet": (AvailabilityStatus.ARCHIVED, None, DeviceHistory.Action.ARCHIVED),
    "reassign": (AvailabilityStatus.IN_USE, AssignmentStatus.ASSIGNED, DeviceHistory.Action.REASSIGNED),
}


def _start(org, employee, actor, decisions=None, **kwargs):
    return services.offboarding_start(organization=org, employee=employee, actor=actor, decisions=decisions, **kwargs)


@pytest.mark.parametrize("wipe", [True, False])
@pytest.mark.parametrize("action", ["return_to_stock", "remove_from_fleet", "reassign"])
def test_each_decision_with_and_without_wipe(org, actor, leaver, bob, action, wipe, django_capture_on_commit_callbacks,
                                            command_queue):
    queued = command_queue
    [device] = hand(org, leaver, actor)
    decision = {"device": device.pk, "action": action, "wipe": wipe}
    if action == "reassign":
        decision["reassign_to"] = bob.email
    case = _start(org, leaver, actor, [decision])

    with django_capture_on_commit_callbacks() as callbacks:
        services.offboarding_complete(offboarding=case, actor=actor)
        assert queued == []  # nothing leaves for Fleet before the commit
    for callback in callbacks:
        callback()

    device.refresh_from_db()
    leaver.refresh_from_db()
    availability, assignment, history_action = EXPECTED[action]
    assert (device.availability_status, device.assignment_status) == (availability, assignment)
    assert device.assignee == (bob if action == "reassign" else None)
    assert leaver.status == Employee.Status.OFFBOARDED and leaver.offboarded_at is not None
    last = device.history.first()
    assert (last.action, last.source, last.wipe_requested) == (history_action, Source.OFFBOARDING, wipe)
    assert AuditEvent.objects.for_target(device).filter(source=Source.OFFBOARDING).exists()
    row = OffboardingDevice.objects.get(offboarding=case)
    assert row.status == OffboardingDevice.Status.APPLIED and row.wipe is wipe
    wipes = DeviceCommand.objects.for_org(org).filter(device=device)
    assert wipes.count() == (1 if wipe else 0)
    assert queued == ([org.pk] if wipe else [])
    if wipe:
        assert wipes.get().status == DeviceCommand.Status.REQUESTED
    case.refresh_from_db()
    assert case.status == Offboarding.Status.COMPLETED and case.completed_at


def test_wipe_defaults_follow_the_action(org, actor, leaver, bob):
    devices = hand(org, leaver, actor, 3)
    case = _start(org, leaver, actor, [
        {"device": devices[0].pk, "action": "return_to_stock"},
        {"device": devices[1].pk, "action": "remove_from_fleet"},
        {"device": devices[2].pk, "action": "reassign", "reassign_to": bob.pk},
    ])
    wipes = dict(case.decisions.values_list("device_id", "wipe"))
    assert wipes == {devices[0].pk: True, devices[1].pk: False, devices[2].pk: True}


def test_organization_default_fills_devices_not_named(org, actor, leaver):
    org.offboarding_default_action = "remove_from_fleet"
    org.save()
    named, other = hand(org, leaver, actor, 2)
    case = _start(org, leaver, actor, [{"device": named.pk, "action": "return_to_stock", "wipe": False}])
    rows = {d.device_id: d for d in case.decisions.all()}
    assert (rows[named.pk].action, rows[named.pk].by_default) == ("return_to_stock", False)
    assert (rows[other.pk].action, rows[other.pk].wipe, rows[other.pk].by_default) == ("remove_from_fleet", False, True)


def test_reassign_to_an_offboarded_employee_is_refused(org, actor, leaver):
    gone = EmployeeFactory(organization=org, status=Employee.Status.OFFBOARDED, email="gone@acme.test")
    [device] = hand(org, leaver, actor)
    with pytest.raises(InvalidInput, match="offboarded"):
        _start(org, leaver, actor, [{"device": device.pk, "action": "reassign", "reassign_to": gone.email}])
    assert not Offboarding.objects.exists()


def test_receiver_offboarded_after_the_draft_blocks_completion_and_changes_nothing(org, actor, leaver, bob):
    [device] = hand(org, leaver, actor)
    case = _start(org, leaver, actor, [{"device": device.pk, "action": "reassign", "reassign_to": bob.pk}])
    Employee.objects.filter(pk=bob.pk).update(status=Employee.Status.OFFBOARDED)
    with pytest.raises(InvalidInput, match="Bob Builder has been offboarded"):
        services.offboarding_complete(offboarding=case, actor=actor)
    device.refresh_from_db()
    leaver.refresh_from_db()
    case.refresh_from_db()
    assert device.assignee == leaver and leaver.is_active and case.status == Offboarding.Status.DRAFT


@pytest.mark.parametrize("decision, message", [
    ({"device": 999999, "action": "return_to_stock"}, "No device"),
    ({"device": "NOSUCHSERIAL", "action": "return_to_stock"}, "No device"),
    ({"action": "reassign", "reassign_to": "nobody@acme.test"}, "No employee"),
    ({"action": "reassign"}, "reassign_to"),
    ({"action": "reassign", "reassign_to": "lea@acme.test"}, "the leaver"),
    ({"action": "return_to_stock", "reassign_to": "bob@acme.test"}, "only for the reassign"),
    ({"action": "explode"}, "not a decision"),
])
def test_bad_decisions_are_refused_and_change_nothing(org, actor, leaver, bob, decision, message):
    [device] = hand(org, leaver, actor)
    decision = {"device": device.pk, **decision}
    with pytest.raises(InvalidInput, match=message):
        _start(org, leaver, actor, [decision])
    assert not Offboarding.objects.exists() and not OffboardingDevice.objects.exists()


def test_device_not_held_by_the_employee_is_refused(org, actor, leaver, bob):
    [bobs] = hand(org, bob, actor)
    hand(org, leaver, actor)
    with pytest.raises(InvalidInput, match="not held by Lea Leaver"):
        _start(org, leaver, actor, [{"device": bobs.pk, "action": "return_to_stock"}])
    assert not Offboarding.objects.exists()


def test_past_effective_date_is_refused(org, actor, leaver, freeze):
    from datetime import date, datetime

    freeze(datetime(2026, 11, 21, 9, 0))
    with pytest.raises(InvalidInput, match="in the past") as info:
        _start(org, leaver, actor, effective_date=date(2026, 11, 20))
    assert info.value.field == "effective_date"
    assert not Offboarding.objects.exists()


def test_devices_received_after_the_draft_get_the_default_at_completion(org, actor, leaver, bob):
    [first] = hand(org, leaver, actor)
    case = _start(org, leaver, actor, [{"device": first.pk, "action": "reassign", "reassign_to": bob.pk,
                                         "wipe": False}])
    [late] = hand(org, leaver, actor)  # received after drafting
    services.offboarding_complete(offboarding=case, actor=actor)
    late.refresh_from_db()
    first.refresh_from_db()
    assert first.assignee == bob
    assert late.availability_status == AvailabilityStatus.IN_STOCK and late.assignee is None
    row = case.decisions.get(device=late)
    assert (row.action, row.wipe, row.by_default, row.status) == ("return_to_stock", True, True, "applied")


def test_device_given_away_after_the_draft_is_skipped(org, actor, leaver, bob):
    [device] = hand(org, leaver, actor)
    case = _start(org, leaver, actor)
    device_services.device_reassign(device=device, employee=bob, actor=actor)
    services.offboarding_complete(offboarding=case, actor=actor)
    device.refresh_from_db()
    assert device.assignee == bob
    assert case.decisions.get(device=device).status == OffboardingDevice.Status.SKIPPED


def test_cancel_changes_nothing_and_closes_the_case(org, actor, leaver):
    [device] = hand(org, leaver, actor)
    case = _start(org, leaver, actor)
    services.offboarding_cancel(offboarding=case, actor=actor, reason="Stays after all")
    case.refresh_from_db()
    device.refresh_from_db()
    leaver.refresh_from_db()
    assert case.status == Offboarding.Status.CANCELLED and case.cancel_reason == "Stays after all"
    assert device.assignee == leaver and leaver.is_active
    with pytest.raises(IllegalTransition):
        services.offboarding_complete(offboarding=case, actor=actor)
    with pytest.raises(IllegalTransition):
        services.offboarding_cancel(offboarding=case, actor=actor)
    # A new case can be started once the old one is cancelled.
    assert _start(org, leaver, actor).status == Offboarding.Status.DRAFT


def test_one_open_case_per_employee_and_none_for_an_offboarded_one(org, actor, leaver):
    case = _start(org, leaver, actor)
    with pytest.raises(IllegalTransition, match="already has an open offboarding"):
        _start(org, leaver, actor)
    services.offboarding_complete(offboarding=case, actor=actor)
    with pytest.raises(IllegalTransition, match="already been offboarded"):
        _start(org, leaver, actor)
    with pytest.raises(IllegalTransition):
        services.offboarding_complete(offboarding=case, actor=actor)


def test_set_decisions_changes_only_the_named_devices(org, actor, leaver, bob):
    one, two = hand(org, leaver, actor, 2)
    case = _start(org, leaver, actor)
    services.offboarding_set_decisions(offboarding=case, actor=actor, decisions=[
        {"device": one, "action": "reassign", "reassign_to": bob, "wipe": False}])
    rows = {d.device_id: (d.action, d.wipe, d.by_default) for d in case.decisions.all()}
    assert rows == {one.pk: ("reassign", False, False), two.pk: ("return_to_stock", True, True)}
    assert AuditEvent.objects.filter(event="offboarding.decisions_changed").count() == 1


def test_completion_runs_the_employee_offboarded_steps_inside_its_transaction(org, actor, leaver, monkeypatch):
    [device] = hand(org, leaver, actor)
    case = _start(org, leaver, actor)
    seen = []

    def step(*, employee, actor):
        seen.append(Employee.objects.get(pk=employee.pk).status)
        raise RuntimeError("pre-assignments could not be cancelled")

    monkeypatch.setattr(employee_offboarded, "_steps", [])
    employee_offboarded.register(step, name="test-step")
    with pytest.raises(RuntimeError):
        services.offboarding_complete(offboarding=case, actor=actor)
    assert seen == ["offboarded"]  # it saw the employee offboarded, in the same transaction
    # ...and its failure rolled everything back.
    device.refresh_from_db()
    leaver.refresh_from_db()
    case.refresh_from_db()
    assert device.assignee == leaver and leaver.is_active and case.status == Offboarding.Status.DRAFT
    assert not DeviceCommand.objects.exists()


def test_offboarded_employee_cannot_be_assigned_a_device(org, actor, leaver):
    case = _start(org, leaver, actor)
    services.offboarding_complete(offboarding=case, actor=actor)
    spare = Device.objects.create(organization=org, name="spare")
    leaver.refresh_from_db()  # devices.services checks the instance it is given (see the report)
    with pytest.raises(InvalidInput, match="offboarded"):
        device_services.device_assign(device=spare, employee=leaver, actor=actor)


def test_audit_entries_of_a_case(org, actor, leaver):
    case = _start(org, leaver, actor)
    services.offboarding_complete(offboarding=case, actor=actor)
    events = set(AuditEvent.objects.for_org(org).values_list("event", flat=True))
    assert {"offboarding.started", "offboarding.completed", "employee.offboarded"} <= events
    sentence = AuditEvent.objects.get(event="employee.offboarded").sentence
    assert "offboarded Lea Leaver" in sentence


def test_hold_until_wipe_returns_the_device_to_stock_until_the_wipe_is_confirmed(org, actor, leaver, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    held, direct = hand(org, leaver, actor, 2)
    case = _start(org, leaver, actor, [
        {"device": held.pk, "action": "reassign", "reassign_to": bob.pk, "wipe": True},
        {"device": direct.pk, "action": "reassign", "reassign_to": bob.pk, "wipe": False},
    ])
    services.offboarding_complete(offboarding=case, actor=actor)
    held.refresh_from_db()
    direct.refresh_from_db()
    assert held.availability_status == AvailabilityStatus.IN_STOCK and held.assignee is None
    assert direct.assignee == bob  # no wipe to wait for
    decision = case.decisions.get(device=held)
    assert decision.status == OffboardingDevice.Status.AWAITING_WIPE
    # The moves' reasons are stored as codes: the timeline reads them in the reader's language.
    entries = AuditEvent.objects.for_org(org)
    kept = entries.for_target(held).get(event="device.returned_to_stock")
    reassigned = entries.for_target(direct).get(event="device.reassigned")
    name = leaver.display_name
    assert kept.after["reason"] == (f"Offboarding of {name}: Held in stock until its wipe is confirmed, then goes to "
                                    f"{bob.display_name}")
    assert reassigned.after["reason"] == f"Offboarding of {name}"
    with translation.override("fr"):
        assert reassigned.reason == f"Départ de {name}"
        assert kept.reason.startswith(f"Départ de {name}") and "Gardé en stock" in kept.reason

    # The sync reports the host wiped: the device goes to Bob.
    wipe = DeviceCommand.objects.get(device=held)
    DeviceCommand.objects.filter(pk=wipe.pk).update(status=DeviceCommand.Status.SENT, status_at_send="unlocked")
    Device.objects.filter(pk=held.pk).update(mdm_device_status="wiped", mdm_pending_action="")
    counts = commands_confirm_from_sync(organization=org, device_ids=[held.pk])
    assert counts == {"commands_confirmed": 1, "handed_over": 1}
    held.refresh_from_db()
    decision.refresh_from_db()
    assert held.assignee == bob and decision.status == OffboardingDevice.Status.APPLIED
    assert held.history.first().source == Source.OFFBOARDING


def test_hold_is_not_forced_over_someone_who_took_the_device(org, actor, leaver, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    carol = EmployeeFactory(organization=org, full_name="Carol")
    [held] = hand(org, leaver, actor)
    case = _start(org, leaver, actor, [{"device": held.pk, "action": "reassign", "reassign_to": bob.pk}])
    services.offboarding_complete(offboarding=case, actor=actor)
    device_services.device_assign(device=held, employee=carol, actor=actor)
    DeviceCommand.objects.filter(device=held).update(status=DeviceCommand.Status.SENT)
    Device.objects.filter(pk=held.pk).update(mdm_device_status="wiped")
    assert commands_confirm_from_sync(organization=org) == {"commands_confirmed": 1, "handed_over": 0}
    held.refresh_from_db()
    decision = case.decisions.get(device=held)
    assert held.assignee == carol
    assert decision.status == OffboardingDevice.Status.HOLD_FAILED and "Carol" in decision.note


def test_completion_records_what_the_other_apps_did_for_the_leaver(org, actor, leaver):
    case = _start(org, leaver, actor)
    services.offboarding_complete(offboarding=case, actor=actor)
    follow_ups = AuditEvent.objects.get(event="offboarding.completed").after["follow_ups"]
    assert set(follow_ups) == set(employee_offboarded.names)
    assert all(result["ok"] for result in follow_ups.values())


def test_completion_cancels_the_leavers_waiting_pre_assignments(org, actor, leaver, bob):
    from assignment.services import pre_assignment_create

    mine = pre_assignment_create(organization=org, actor=actor, serial_number="C02LEAFUTURE", employee=leaver)
    bobs = pre_assignment_create(organization=org, actor=actor, serial_number="C02BOBFUTURE", employee=bob)
    services.offboarding_complete(offboarding=_start(org, leaver, actor), actor=actor)
    mine.refresh_from_db()
    bobs.refresh_from_db()
    assert (mine.status, bobs.status) == ("cancelled", "waiting")
