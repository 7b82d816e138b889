"""Pre-assignment services: created, applied (now, by a sync, after a device is added), conflicts, settlement."""

import pytest

from assignment import services
from assignment.models import PreAssignment
from core.errors import IllegalTransition, InvalidInput
from core.hooks import employee_offboarded
from core.models import AuditEvent, Employee
from devices import services as device_services
from devices.models import Device
from mdm_sync.models import SyncRun
from tests.conftest import sync_now
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory


@pytest.fixture
def sales(org):
    return GroupFactory(organization=org, name="Sales")


def create(org, actor, serial, employee, **kwargs):
    return services.pre_assignment_create(organization=org, actor=actor, serial_number=serial, employee=employee,
                                          **kwargs)


def test_waits_for_a_device_not_seen_yet(org, actor, employee, sales):
    pa = create(org, actor, " c02later1 ", employee, groups=["sales"], ownership="personal")
    assert (pa.serial_number, pa.status, pa.domain_name, pa.ownership) == ("C02LATER1", "waiting", "MDM", "personal")
    assert [g.name for g in pa.groups.all()] == ["Sales"]
    event = AuditEvent.objects.get(event="pre_assignment.created")
    assert event.sentence.endswith("pre-assigned C02LATER1 to ada@acme.test")


def test_applied_at_once_when_the_device_is_here_and_unassigned(org, actor, employee, sales):
    device = DeviceFactory(organization=org, serial_number="C02HERE1")
    pa = create(org, actor, "C02HERE1", employee, groups=["Sales"])
    device.refresh_from_db()
    assert (pa.status, pa.device) == ("applied", device)
    assert (device.assignee, device.availability_status, [g.name for g in device.groups.all()]) == (
        employee, "in_use", ["Sales"])
    assert device.history.first().source == "pre_assignment"
    assert AuditEvent.objects.filter(event="pre_assignment.applied", target_id=str(pa.pk)).exists()


def test_one_active_pre_assignment_per_serial(org, actor, employee):
    create(org, actor, "C02ONE", employee)
    with pytest.raises(InvalidInput) as caught:
        create(org, actor, "c02one", EmployeeFactory(organization=org))
    assert caught.value.message == ("The serial number C02ONE is already pre-assigned to ada@acme.test; cancel that "
                                    "one first.")
    services.pre_assignment_cancel(pre_assignment=PreAssignment.objects.get(), actor=actor)
    assert create(org, actor, "C02ONE", employee).status == "waiting"  # a cancelled one does not count


@pytest.mark.parametrize("kwargs,field", [
    ({"serial_number": "  "}, "serial_number"),
    ({"ownership": "leased"}, "ownership"),
    ({"groups": ["Nope"]}, "groups"),
])
def test_bad_input_is_refused(org, actor, employee, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        services.pre_assignment_create(organization=org, actor=actor, **({"serial_number": "C02X", "employee": employee}
                                                                         | kwargs))
    assert caught.value.field == field
    assert not PreAssignment.objects.exists()


def test_offboarded_or_foreign_employee_is_refused(org, other_org, actor):
    gone = EmployeeFactory(organization=org, status=Employee.Status.OFFBOARDED)
    with pytest.raises(InvalidInput, match="offboarded"):
        create(org, actor, "C02X", gone)
    with pytest.raises(InvalidInput, match="Unknown employee"):
        create(org, actor, "C02X", EmployeeFactory(organization=other_org))


def test_conflict_then_settled_by_reassigning(org, actor, employee, sales):
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    device = DeviceFactory(organization=org, serial_number="C02BUSY")
    device_services.device_assign(device=device, employee=grace, actor=actor)

    pa = create(org, actor, "C02BUSY", employee, groups=["Sales"])

    device.refresh_from_db()
    assert pa.status == "conflict" and pa.note == "The device is assigned to grace@acme.test."
    assert device.assignee == grace  # never a silent reassignment
    with pytest.raises(InvalidInput):
        services.pre_assignment_settle(pre_assignment=pa, actor=actor, decision="maybe")

    pa = services.pre_assignment_settle(pre_assignment=pa, actor=actor, decision="assign", wipe=True)

    device.refresh_from_db()
    assert pa.status == "applied" and device.assignee == employee
    last = device.history.first()
    assert (last.action, last.source, last.wipe_requested, last.assignee_before) == (
        "reassigned", "pre_assignment", True, grace)
    assert [g.name for g in device.groups.all()] == ["Sales"]
    with pytest.raises(IllegalTransition):
        services.pre_assignment_settle(pre_assignment=pa, actor=actor, decision="assign")


def test_conflict_settled_by_keeping_the_owner(org, actor, employee):
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    device = device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02BUSY"),
                                           employee=grace, actor=actor)
    pa = services.pre_assignment_settle(pre_assignment=create(org, actor, "C02BUSY", employee), actor=actor,
                                        decision="keep")
    device.refresh_from_db()
    assert (pa.status, pa.note, device.assignee) == ("cancelled", "Conflict settled: kept grace@acme.test.", grace)
    assert AuditEvent.objects.filter(event="pre_assignment.settled", target_id=str(pa.pk)).exists()


def test_a_shared_device_is_a_conflict_not_an_owner(org, actor, employee):
    DeviceFactory(organization=org, serial_number="C02KIOSK", usage="shared")
    pa = create(org, actor, "C02KIOSK", employee)
    assert pa.status == "conflict" and "shared" in pa.note


def test_edit_and_cancel(org, actor, employee, sales):
    pa = create(org, actor, "C02EDIT", employee)
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    pa = services.pre_assignment_update(pre_assignment=pa, actor=actor, employee=grace, groups=["Sales"],
                                        domain_name="CORP")
    assert (pa.employee, pa.domain_name, [g.name for g in pa.groups.all()]) == (grace, "CORP", ["Sales"])
    event = AuditEvent.objects.get(event="pre_assignment.updated")
    assert event.before["employee"] == "ada@acme.test" and event.after["employee"] == "grace@acme.test"
    services.pre_assignment_cancel(pre_assignment=pa, actor=actor)
    pa.refresh_from_db()
    assert pa.status == "cancelled" and pa.cancelled_at
    with pytest.raises(IllegalTransition):
        services.pre_assignment_update(pre_assignment=pa, actor=actor, domain_name="X")
    with pytest.raises(IllegalTransition):
        services.pre_assignment_cancel(pre_assignment=pa, actor=actor)


def test_applied_when_a_device_is_added_later(org, actor, employee, sales, cockpit_client):
    """A device added by hand (cockpit) takes its waiting pre-assignment at once (devices.hooks.device_created)."""
    first = create(org, actor, "C02HAND1", employee, groups=["Sales"])
    second = create(org, actor, "C02HAND2", employee)
    for serial in ("C02HAND1", "C02HAND2"):
        response = cockpit_client.post(f"/o/{org.slug}/devices/new/", {
            "serial_number": serial.lower(), "platform": "macos", "ownership": "corporate", "usage": "individual"})
        assert response.status_code == 302
    device = Device.objects.get(serial_number="C02HAND1")
    assert device.assignee == employee and [g.name for g in device.groups.all()] == ["Sales"]
    for pa in (first, second):
        pa.refresh_from_db()
        assert pa.status == "applied" and pa.device.assignee == employee
    assert services.pre_assignments_apply(organization=org, actor=actor) == {
        "applied": 0, "conflict": 0, "held": 0, "failed": 0}


def test_applied_by_a_sync(connected, sim, actor, employee):
    org = connected
    GroupFactory(organization=org, name="Field")
    pending_id = sim.ids_in_situation("abm_pending", limit=1)[0]  # an ABM placeholder: the classic case
    healthy_id = sim.ids_in_situation("generic_installer", limit=1)[0]
    serials = [sim.host_json(host_id)["hardware_serial"] for host_id in (pending_id, healthy_id)]
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    first = create(org, actor, serials[0], employee, groups=["Field"])
    second = create(org, actor, serials[1], grace)
    assert first.status == second.status == "waiting"

    run = sync_now(org, sim)

    assert run.status == SyncRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert run.follow_ups["pre_assignment"] == {"ok": True, "applied": 2, "conflict": 0, "held": 0, "failed": 0}
    for pa, who in ((first, employee), (second, grace)):
        pa.refresh_from_db()
        assert pa.status == "applied"
        device = Device.objects.get(organization=org, serial_number=pa.serial_number)
        assert device.assignee == who and pa.device == device
        assert device.history.first().source == "pre_assignment"
        assert device.history.first().actor_label == "System (tests)"
    assert [g.name for g in Device.objects.get(serial_number=serials[0]).groups.all()] == ["Field"]

    # The next sync finds nothing more to do, and a device assigned since then becomes a conflict, never reassigned.
    run = sync_now(org, sim)
    run.refresh_from_db()
    assert run.follow_ups["pre_assignment"] == {"ok": True, "applied": 0, "conflict": 0, "held": 0, "failed": 0}


def test_a_sync_turns_a_pre_assignment_of_an_assigned_device_into_a_conflict(connected, sim, actor, employee):
    org = connected
    host_id = sim.ids_in_situation("generic_installer", limit=1)[0]
    serial = sim.host_json(host_id)["hardware_serial"]
    sync_now(org, sim)
    device = Device.objects.get(organization=org, serial_number=serial)
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    device_services.device_assign(device=device, employee=grace, actor=actor)
    # Created while the device was assigned: a conflict at once; the sync keeps it so and keeps Grace.
    pa = create(org, actor, serial, employee)
    assert pa.status == "conflict"
    run = sync_now(org, sim)
    run.refresh_from_db()
    # Not new:
    assert run.follow_ups["pre_assignment"] == {"ok": True, "applied": 0, "conflict": 0, "held": 0, "failed": 0}
    pa.refresh_from_db()
    device.refresh_from_db()
    assert pa.status == "conflict" and device.assignee == grace
    assert AuditEvent.objects.filter(event="pre_assignment.conflict", target_id=str(pa.pk)).count() == 1

    # Grace gives the device back: the conflict is gone, the next sync applies the pre-assignment.
    device_services.device_unassign(device=device, actor=actor)
    run = sync_now(org, sim)
    run.refresh_from_db()
    assert run.follow_ups["pre_assignment"] == {"ok": True, "applied": 1, "conflict": 0, "held": 0, "failed": 0}
    pa.refresh_from_db()
    device.refresh_from_db()
    assert pa.status == "applied" and device.assignee == employee


def test_offboarding_cancels_pending_pre_assignments(org, actor, employee):
    pa = create(org, actor, "C02LEAVER", employee)
    grace = EmployeeFactory(organization=org)
    device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02BUSY"), employee=grace,
                                  actor=actor)
    conflict = create(org, actor, "C02BUSY", employee)
    others = create(org, actor, "C02OTHERS", grace)
    results = employee_offboarded.run(employee=employee, actor=actor)
    assert results["pre_assignment"] == {"ok": True, "pre_assignments_cancelled": 2}
    for each in (pa, conflict, others):
        each.refresh_from_db()
    assert (pa.status, conflict.status, others.status) == ("cancelled", "cancelled", "waiting")
    assert pa.note == "The employee was offboarded."


def test_a_device_added_by_hand_applies_its_pre_assignment_at_once(org, actor, employee):
    """``devices.hooks.device_created`` runs the pre-assignment step inside the creation (see assignment.wiring)."""
    from assignment.wiring import apply_to_new_device

    pa = create(org, actor, "C02HOOK", employee)
    device = device_services.device_create(organization=org, actor=actor, serial_number="c02hook", platform="macos")
    assert device.assignee == employee  # the returned device already shows it
    pa.refresh_from_db()
    assert pa.status == "applied"
    history = list(device.history.values_list("action", "source"))
    assert ("assigned", "pre_assignment") in history
    assert apply_to_new_device(device=device, actor=actor) == {"applied": 0, "conflict": 0, "held": 0, "failed": 0}
