"""Each status move of a device (DESIGN §4) through ``devices.services``: assign, unassign, reassign, return to
stock, archive and restore.

Every allowed move: the resulting statuses, one history row, one audit entry. Every refused move: the right domain
error, and nothing changed (device row, history, audit log).
"""

import pytest

from core.actors import Actor
from core.audit import Source
from core.errors import IllegalTransition, InvalidInput
from core.models import ApiToken
from core.services import api_token_create
from devices import services
from devices.models import Device, DeviceHistory, EnrollmentStatus
from tests.devices.service_checks import changes_nothing, device_maker, device_row, one_history_and_audit, statuses
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Byte", email="bob@acme.test")


@pytest.fixture
def make_device(org, employee):
    return device_maker(org, employee)


# --- assign ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["in_stock", "in_use_unowned"])
def test_assign_unowned_device(make_device, employee, actor, admin_user, state):
    device = make_device(state)
    before_availability = device.availability_status
    with one_history_and_audit(device) as written:
        result = services.device_assign(device=device, employee=employee, actor=actor, reason="new hire")

    assert statuses(device) == ("in_use", "assigned", employee.pk)
    assert (result.availability_status, result.assignment_status, result.assignee) == ("in_use", "assigned", employee)
    fresh = Device.objects.get(pk=device.pk)
    assert fresh.assigned_at is not None
    assert fresh.version == device.version + 1
    # A device nobody enrolled yet stays awaiting activation, whoever owns it.
    assert fresh.enrollment_status == EnrollmentStatus.AWAITING_ACTIVATION

    history = written["history"]
    assert history.action == DeviceHistory.Action.ASSIGNED
    assert history.source == Source.MANUAL
    assert history.actor_label == actor.label
    assert history.reason == "new hire"
    assert (history.availability_before, history.availability_after) == (before_availability, "in_use")
    assert (history.assignment_before, history.assignment_after) == ("to_assign", "assigned")
    assert (history.assignee_before, history.assignee_after) == (None, employee)
    assert history.wipe_requested is False

    audit = written["audit"]
    assert audit.event == "device.assigned"
    assert audit.source == Source.MANUAL
    assert (audit.actor_type, audit.actor_user, audit.actor_label) == ("user", admin_user, actor.label)
    assert audit.before["availability_status"] == before_availability
    assert audit.before["assignment_status"] == "to_assign"
    assert audit.before["assignee"] is None
    assert audit.after["availability_status"] == "in_use"
    assert audit.after["assignment_status"] == "assigned"
    assert audit.after["assignee"] == employee.email
    assert audit.after["reason"] == "new hire"
    assert "wipe_requested" not in audit.after
    assert employee.email in audit.sentence


def test_assign_records_the_source_and_a_system_actor(make_device, employee):
    device = make_device("in_stock")
    with one_history_and_audit(device) as written:
        services.device_assign(device=device, employee=employee, actor=Actor.system("enrollment"),
                               source=Source.ENROLLMENT)
    assert written["history"].source == "enrollment"
    assert written["history"].actor_label == "System (enrollment)"
    audit = written["audit"]
    assert (audit.actor_type, audit.actor_user, audit.actor_token) == ("system", None, None)
    assert audit.source == "enrollment"


def test_assign_records_a_token_actor(org, make_device, employee):
    token, _key = api_token_create(
        organization=org, name="HR sync", scope="write", actor=Actor.system("tests")
    )
    device = make_device("in_stock")
    with one_history_and_audit(device) as written:
        services.device_assign(device=device, employee=employee, actor=Actor.for_token(token), source=Source.API)
    audit = written["audit"]
    assert (audit.actor_type, audit.actor_token) == ("token", token)
    assert audit.actor_label == "API token “HR sync”"
    assert audit.source == "api"
    assert isinstance(audit.actor_token, ApiToken)


def test_assign_archived_device_is_refused(make_device, employee, actor):
    device = make_device("archived")
    with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
        services.device_assign(device=device, employee=employee, actor=actor)
    assert exc.value.status == 409
    assert "archived" in exc.value.message


def test_assign_to_offboarded_employee_is_refused(org, make_device, actor):
    gone = EmployeeFactory(organization=org, status="offboarded")
    device = make_device("in_stock")
    with changes_nothing(device), pytest.raises(InvalidInput) as exc:
        services.device_assign(device=device, employee=gone, actor=actor)
    assert exc.value.field == "employee"
    assert "offboarded" in exc.value.message


def test_assign_to_employee_of_another_org_is_refused(other_org, make_device, actor):
    stranger = EmployeeFactory(organization=other_org)
    device = make_device("in_stock")
    with changes_nothing(device), pytest.raises(InvalidInput) as exc:
        services.device_assign(device=device, employee=stranger, actor=actor)
    assert exc.value.field == "employee"


def test_assign_device_of_another_org_to_own_employee_is_refused(other_org, employee, actor):
    foreign_device = DeviceFactory(organization=other_org)
    with changes_nothing(foreign_device), pytest.raises(InvalidInput):
        services.device_assign(device=foreign_device, employee=employee, actor=actor)


def test_assign_already_assigned_device_to_same_employee_is_refused(make_device, employee, actor):
    device = make_device("assigned")
    with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
        services.device_assign(device=device, employee=employee, actor=actor)
    assert "already assigned" in exc.value.message


def test_assign_already_assigned_device_to_another_employee_is_refused(make_device, bob, actor):
    device = make_device("assigned")
    with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
        services.device_assign(device=device, employee=bob, actor=actor)
    assert "reassign" in exc.value.message


def test_assign_reads_the_employee_status_again_rather_than_trusting_a_stale_object(org, device, actor):
    from core.errors import InvalidInput
    from core.models import Employee
    from tests.factories import EmployeeFactory

    leaver = EmployeeFactory(organization=org, email="leaver@acme.test")
    stale = Employee.objects.get(pk=leaver.pk)
    Employee.objects.filter(pk=leaver.pk).update(status=Employee.Status.OFFBOARDED)
    assert stale.is_active  # the object in hand still says active

    with pytest.raises(InvalidInput, match="offboarded"):
        services.device_assign(device=device, employee=stale, actor=actor)
    device.refresh_from_db()
    assert device.assignee_id is None


# --- unassign -------------------------------------------------------------------------------------


@pytest.mark.parametrize("wipe", [False, True])
def test_unassign_keeps_device_in_use(make_device, employee, actor, wipe):
    device = make_device("assigned")
    with one_history_and_audit(device) as written:
        services.device_unassign(device=device, actor=actor, wipe=wipe, source=Source.OFFBOARDING)

    assert statuses(device) == ("in_use", "to_assign", None)
    assert Device.objects.get(pk=device.pk).assigned_at is None
    history = written["history"]
    assert history.action == DeviceHistory.Action.UNASSIGNED
    assert history.source == "offboarding"
    assert (history.availability_before, history.availability_after) == ("in_use", "in_use")
    assert (history.assignment_before, history.assignment_after) == ("assigned", "to_assign")
    assert (history.assignee_before, history.assignee_after) == (employee, None)
    assert history.wipe_requested is wipe
    audit = written["audit"]
    assert audit.event == "device.unassigned"
    assert audit.source == "offboarding"
    assert audit.before["assignee"] == employee.email
    assert audit.after["assignee"] is None
    assert audit.after.get("wipe_requested", False) is wipe
    assert ("(wipe requested)" in audit.sentence) is wipe


@pytest.mark.parametrize("state", ["in_stock", "in_use_unowned", "archived"])
def test_unassign_unassigned_device_is_refused(make_device, actor, state):
    device = make_device(state)
    with changes_nothing(device), pytest.raises(IllegalTransition):
        services.device_unassign(device=device, actor=actor, wipe=True)


# --- reassign -------------------------------------------------------------------------------------


@pytest.mark.parametrize("wipe", [False, True])
def test_reassign_moves_owner(make_device, employee, bob, actor, wipe):
    device = make_device("assigned")
    with one_history_and_audit(device) as written:
        services.device_reassign(device=device, employee=bob, actor=actor, wipe=wipe, reason="team change")

    assert statuses(device) == ("in_use", "assigned", bob.pk)
    history = written["history"]
    assert history.action == DeviceHistory.Action.REASSIGNED
    assert (history.availability_before, history.availability_after) == ("in_use", "in_use")
    assert (history.assignment_before, history.assignment_after) == ("assigned", "assigned")
    assert (history.assignee_before, history.assignee_after) == (employee, bob)
    assert history.wipe_requested is wipe
    assert history.reason == "team change"
    audit = written["audit"]
    assert audit.event == "device.reassigned"
    assert (audit.before["assignee"], audit.after["assignee"]) == (employee.email, bob.email)
    assert audit.after.get("wipe_requested", False) is wipe
    assert employee.email in audit.sentence and bob.email in audit.sentence


def test_reassign_to_same_employee_is_refused(make_device, employee, actor):
    device = make_device("assigned")
    with changes_nothing(device), pytest.raises(InvalidInput) as exc:
        services.device_reassign(device=device, employee=employee, actor=actor)
    assert exc.value.field == "employee"


@pytest.mark.parametrize("state", ["in_stock", "in_use_unowned"])
def test_reassign_unowned_device_is_refused(make_device, bob, actor, state):
    device = make_device(state)
    with changes_nothing(device), pytest.raises(IllegalTransition):
        services.device_reassign(device=device, employee=bob, actor=actor)


def test_reassign_archived_device_is_refused(make_device, bob, actor):
    device = make_device("archived")
    with changes_nothing(device), pytest.raises(IllegalTransition):
        services.device_reassign(device=device, employee=bob, actor=actor)


def test_reassign_to_offboarded_employee_is_refused(org, make_device, actor):
    gone = EmployeeFactory(organization=org, status="offboarded")
    device = make_device("assigned")
    with changes_nothing(device), pytest.raises(InvalidInput):
        services.device_reassign(device=device, employee=gone, actor=actor)


def test_reassign_to_employee_of_another_org_is_refused(other_org, make_device, actor):
    device = make_device("assigned")
    with changes_nothing(device), pytest.raises(InvalidInput):
        services.device_reassign(device=device, employee=EmployeeFactory(organization=other_org), actor=actor)


# --- return to stock ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["assigned", "in_use_unowned"])
def test_return_to_stock(make_device, employee, actor, state):
    device = make_device(state)
    was_assigned = state == "assigned"
    with one_history_and_audit(device) as written:
        services.device_return_to_stock(device=device, actor=actor, wipe=True)

    assert statuses(device) == ("in_stock", "to_assign", None)
    assert Device.objects.get(pk=device.pk).assigned_at is None
    history = written["history"]
    assert history.action == DeviceHistory.Action.RETURNED_TO_STOCK
    assert (history.availability_before, history.availability_after) == ("in_use", "in_stock")
    assert history.assignment_before == ("assigned" if was_assigned else "to_assign")
    assert history.assignment_after == "to_assign"
    assert history.assignee_before == (employee if was_assigned else None)
    assert history.assignee_after is None
    assert history.wipe_requested is True
    audit = written["audit"]
    assert audit.event == "device.returned_to_stock"
    assert audit.after["availability_status"] == "in_stock"
    assert audit.after["wipe_requested"] is True


@pytest.mark.parametrize("state", ["in_stock", "archived"])
def test_return_to_stock_refused(make_device, actor, state):
    device = make_device(state)
    with changes_nothing(device), pytest.raises(IllegalTransition):
        services.device_return_to_stock(device=device, actor=actor)


# --- archive / restore ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["in_stock", "in_use_unowned", "assigned"])
def test_archive(make_device, employee, actor, state):
    device = make_device(state)
    before = device_row(device)
    with one_history_and_audit(device) as written:
        services.device_archive(device=device, actor=actor, wipe=(state == "assigned"), reason="broken screen")

    assert statuses(device) == ("archived", None, None)
    fresh = Device.objects.get(pk=device.pk)
    assert fresh.archived_at is not None
    assert fresh.assigned_at is None
    history = written["history"]
    assert history.action == DeviceHistory.Action.ARCHIVED
    assert history.availability_before == before["availability_status"]
    assert history.availability_after == "archived"
    assert history.assignment_before == before["assignment_status"]
    assert history.assignment_after == ""
    assert history.assignee_before == (employee if state == "assigned" else None)
    assert history.assignee_after is None
    assert history.wipe_requested is (state == "assigned")
    assert history.reason == "broken screen"
    audit = written["audit"]
    assert audit.event == "device.archived"
    assert audit.before["availability_status"] == before["availability_status"]
    assert audit.after["availability_status"] == "archived"
    assert audit.after["assignment_status"] is None


def test_archive_twice_is_refused(make_device, actor):
    device = make_device("in_stock")
    services.device_archive(device=device, actor=actor)
    with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
        services.device_archive(device=device, actor=actor)
    assert "already archived" in exc.value.message


def test_restore_puts_device_back_in_stock(make_device, actor):
    device = make_device("archived")
    with one_history_and_audit(device) as written:
        services.device_restore(device=device, actor=actor)

    assert statuses(device) == ("in_stock", "to_assign", None)
    assert Device.objects.get(pk=device.pk).archived_at is None
    history = written["history"]
    assert history.action == DeviceHistory.Action.RESTORED
    assert (history.availability_before, history.availability_after) == ("archived", "in_stock")
    assert (history.assignment_before, history.assignment_after) == ("", "to_assign")
    assert history.wipe_requested is False
    audit = written["audit"]
    assert audit.event == "device.restored"
    assert audit.before["availability_status"] == "archived"
    assert audit.after["availability_status"] == "in_stock"


@pytest.mark.parametrize("state", ["in_stock", "in_use_unowned", "assigned"])
def test_restore_non_archived_device_is_refused(make_device, actor, state):
    device = make_device(state)
    with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
        services.device_restore(device=device, actor=actor)
    assert "not archived" in exc.value.message


def test_archive_then_restore_then_assign_round_trip(make_device, employee, bob, actor):
    device = make_device("assigned")
    services.device_archive(device=device, actor=actor)
    services.device_restore(device=device, actor=actor)
    services.device_assign(device=device, employee=bob, actor=actor)
    assert statuses(device) == ("in_use", "assigned", bob.pk)
    actions = list(DeviceHistory.objects.filter(device=device).order_by("id").values_list("action", flat=True))
    assert actions == ["archived", "restored", "assigned"]
    assert Device.objects.get(pk=device.pk).version == device.version + 3
