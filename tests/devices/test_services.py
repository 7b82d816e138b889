"""Device state changes (DESIGN §4) through ``devices.services``.

Every allowed move: the resulting statuses, one history row, one audit entry. Every refused move:
the right domain error, and nothing changed (device row, history, audit log).
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from core.actors import Actor
from core.audit import Source
from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput
from core.models import ApiToken, AuditEvent
from core.services import api_token_create
from devices import services
from devices.models import Device, DeviceHistory, EnrollmentIssue, EnrollmentStatus, Usage
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db

# --- helpers ---------------------------------------------------------------------------------

STATES = ("in_stock", "in_use_unowned", "assigned", "archived")


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Byte", email="bob@acme.test")


@pytest.fixture
def make_device(org, employee):
    """A device of ``org`` put straight into one of the four legal states (no history written)."""

    def make(state, **extra):
        fields = {
            "in_stock": {},
            "in_use_unowned": {"availability_status": "in_use"},
            "assigned": {"availability_status": "in_use", "assignment_status": "assigned", "assignee": employee,
                         "assigned_at": timezone.now()},
            "archived": {"availability_status": "archived", "assignment_status": None,
                         "archived_at": timezone.now()},
        }[state]
        return DeviceFactory(organization=org, **(fields | extra))

    return make


def device_row(device) -> dict:
    return Device.objects.filter(pk=device.pk).values().get()


@contextmanager
def changes_nothing(device):
    """The block must leave the device row, its groups, the history and the audit log as they were."""
    row = device_row(device)
    groups = sorted(device.groups.values_list("pk", flat=True))
    history = DeviceHistory.objects.count()
    audit = AuditEvent.objects.count()
    yield
    assert device_row(device) == row
    assert sorted(Device.objects.get(pk=device.pk).groups.values_list("pk", flat=True)) == groups
    assert DeviceHistory.objects.count() == history
    assert AuditEvent.objects.count() == audit


@contextmanager
def one_history_and_audit(device):
    """The block must add exactly one history row for ``device`` and exactly one audit entry; yields both."""
    history_ids = set(DeviceHistory.objects.values_list("pk", flat=True))
    audit_ids = set(AuditEvent.objects.values_list("pk", flat=True))
    written = {}
    yield written
    new_history = DeviceHistory.objects.exclude(pk__in=history_ids)
    new_audit = AuditEvent.objects.exclude(pk__in=audit_ids)
    assert new_history.count() == 1
    assert new_audit.count() == 1
    written["history"] = new_history.get()
    written["audit"] = new_audit.get()
    assert written["history"].device_id == device.pk
    assert written["audit"].target_type == "devices.device"
    assert written["audit"].target_id == str(device.pk)
    assert written["audit"].organization_id == device.organization_id


def statuses(device) -> tuple:
    device = Device.objects.get(pk=device.pk)
    return device.availability_status, device.assignment_status, device.assignee_id


# --- assign ----------------------------------------------------------------------------------


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


# --- unassign --------------------------------------------------------------------------------


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


# --- reassign --------------------------------------------------------------------------------


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


# --- return to stock -------------------------------------------------------------------------


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


# --- archive / restore -----------------------------------------------------------------------


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


# --- the whole matrix: every move from every state --------------------------------------------

MOVES = {
    "assign": lambda d, emp, other, actor: services.device_assign(device=d, employee=other, actor=actor),
    "unassign": lambda d, emp, other, actor: services.device_unassign(device=d, actor=actor),
    "reassign": lambda d, emp, other, actor: services.device_reassign(device=d, employee=other, actor=actor),
    "return_to_stock": lambda d, emp, other, actor: services.device_return_to_stock(device=d, actor=actor),
    "archive": lambda d, emp, other, actor: services.device_archive(device=d, actor=actor),
    "restore": lambda d, emp, other, actor: services.device_restore(device=d, actor=actor),
}

# (move, state) -> resulting (availability, assignment, owner) where owner is "other" / None;
# a missing pair is an illegal move.
ALLOWED = {
    ("assign", "in_stock"): ("in_use", "assigned", "other"),
    ("assign", "in_use_unowned"): ("in_use", "assigned", "other"),
    ("unassign", "assigned"): ("in_use", "to_assign", None),
    ("reassign", "assigned"): ("in_use", "assigned", "other"),
    ("return_to_stock", "assigned"): ("in_stock", "to_assign", None),
    ("return_to_stock", "in_use_unowned"): ("in_stock", "to_assign", None),
    ("archive", "in_stock"): ("archived", None, None),
    ("archive", "in_use_unowned"): ("archived", None, None),
    ("archive", "assigned"): ("archived", None, None),
    ("restore", "archived"): ("in_stock", "to_assign", None),
}


@pytest.mark.parametrize("move", list(MOVES))
@pytest.mark.parametrize("state", STATES)
def test_every_move_from_every_state(make_device, employee, bob, actor, move, state):
    device = make_device(state)
    expected = ALLOWED.get((move, state))
    if expected is None:
        with changes_nothing(device), pytest.raises(IllegalTransition) as exc:
            MOVES[move](device, employee, bob, actor)
        assert exc.value.status == 409
        return
    with one_history_and_audit(device) as written:
        MOVES[move](device, employee, bob, actor)
    availability, assignment, owner = expected
    assert statuses(device) == (availability, assignment, bob.pk if owner else None)
    assert written["history"].action == DeviceHistory.Action(
        {"assign": "assigned", "unassign": "unassigned", "reassign": "reassigned",
         "return_to_stock": "returned_to_stock", "archive": "archived", "restore": "restored"}[move]
    )


def test_refused_move_does_not_touch_the_callers_instance_in_db(make_device, actor):
    """A refused move must not save anything the caller's stale instance carries."""
    device = make_device("in_stock")
    device.name = "edited-in-memory"
    with pytest.raises(IllegalTransition):
        services.device_restore(device=device, actor=actor)
    assert Device.objects.get(pk=device.pk).name != "edited-in-memory"


# --- optimistic concurrency ------------------------------------------------------------------


@pytest.mark.parametrize(
    "move",
    [
        lambda d, e, a, v: services.device_assign(device=d, employee=e, actor=a, expected_version=v),
        lambda d, e, a, v: services.device_return_to_stock(device=d, actor=a, expected_version=v),
        lambda d, e, a, v: services.device_archive(device=d, actor=a, expected_version=v),
    ],
    ids=["assign", "return_to_stock", "archive"],
)
def test_expected_version_mismatch_is_a_conflict(make_device, bob, actor, move):
    device = make_device("in_use_unowned")
    with changes_nothing(device), pytest.raises(ConcurrentChange) as exc:
        move(device, bob, actor, device.version + 5)
    assert exc.value.status == 409
    assert exc.value.code == "conflict"


def test_stale_version_after_someone_else_moved_the_device(make_device, employee, bob, actor):
    device = make_device("in_stock")
    seen_version = device.version
    services.device_assign(device=device, employee=employee, actor=actor, expected_version=seen_version)
    assert Device.objects.get(pk=device.pk).version == seen_version + 1
    # A second admin acting on the version they loaded before the first change is refused.
    with changes_nothing(device), pytest.raises(ConcurrentChange):
        services.device_reassign(device=device, employee=bob, actor=actor, expected_version=seen_version)
    services.device_reassign(device=device, employee=bob, actor=actor, expected_version=seen_version + 1)
    assert statuses(device) == ("in_use", "assigned", bob.pk)


def test_domain_errors_share_one_base():
    for error in (ConcurrentChange, IllegalTransition, InvalidInput):
        assert issubclass(error, DomainError)
    assert (InvalidInput.status, IllegalTransition.status, ConcurrentChange.status) == (400, 409, 409)


# --- enrollment status derivation ------------------------------------------------------------

NOW = timezone.now()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"assignee_id": 1}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"mdm_enrolled_at": NOW}, EnrollmentStatus.AWAITING_USER_ASSIGNMENT),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1}, EnrollmentStatus.ENROLLED),
        ({"mdm_enrolled_at": NOW, "usage": Usage.SHARED}, EnrollmentStatus.ENROLLED),
        ({"usage": Usage.SHARED}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1, "enrollment_issues": [EnrollmentIssue.AGENT_MISSING]},
         EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"enrollment_issues": [EnrollmentIssue.ENROLLMENT_INCOMPLETE]}, EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"mdm_enrolled_at": NOW, "usage": Usage.SHARED, "enrollment_issues": ["offline", "agent_inactive"]},
         EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1, "unenrolled_at": NOW}, EnrollmentStatus.UNENROLLED),
        ({"unenrolled_at": NOW, "enrollment_issues": ["offline"]}, EnrollmentStatus.UNENROLLED),
    ],
    ids=[
        "nothing-yet", "owner-before-activation", "activated-no-owner", "activated-and-owned",
        "shared-activated-needs-no-owner", "shared-not-activated", "issue-beats-enrolled",
        "issue-before-activation", "shared-with-issues", "unenrolled", "unenrolled-beats-issues",
    ],
)
def test_device_enrollment_status(fields, expected):
    assert services.device_enrollment_status(Device(**fields)) == expected


def test_enrollment_status_follows_assignment(make_device, employee, actor):
    """Activation and user assignment complete in either order; ``enrolled`` needs both."""
    device = make_device("in_use_unowned", mdm_enrolled_at=timezone.now(),
                         enrollment_status=EnrollmentStatus.AWAITING_USER_ASSIGNMENT)
    services.device_assign(device=device, employee=employee, actor=actor)
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.ENROLLED
    event = AuditEvent.objects.get(event="device.assigned", target_id=str(device.pk))
    assert event.before["enrollment_status"] == "awaiting_user_assignment"
    assert event.after["enrollment_status"] == "enrolled"

    services.device_unassign(device=device, actor=actor)
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.AWAITING_USER_ASSIGNMENT


def test_enrollment_status_with_issues_survives_assignment(make_device, employee, actor):
    device = make_device("in_stock", mdm_enrolled_at=timezone.now() - timedelta(days=3),
                         enrollment_issues=["agent_missing"])
    services.device_assign(device=device, employee=employee, actor=actor)
    fresh = Device.objects.get(pk=device.pk)
    assert fresh.enrollment_status == EnrollmentStatus.PARTIALLY_ENROLLED
    assert fresh.enrollment_issues == ["agent_missing"]


def test_shared_device_is_enrolled_without_owner(org, actor):
    device = services.device_create(organization=org, actor=actor, name="kiosk-1", usage="shared")
    assert device.enrollment_status == EnrollmentStatus.AWAITING_ACTIVATION
    Device.objects.filter(pk=device.pk).update(mdm_enrolled_at=timezone.now())
    device = services.device_update(device=device, actor=actor, name="kiosk-lobby")
    assert device.enrollment_status == EnrollmentStatus.ENROLLED
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.ENROLLED


# --- device_create ---------------------------------------------------------------------------


def test_create_starts_in_stock_to_assign_awaiting_activation(org, actor, admin_user):
    sales = GroupFactory(organization=org, name="Sales")
    device = services.device_create(
        organization=org, actor=actor, serial_number="  c02xyz123 \n", name=" ada-mbp ", platform="macos",
        groups=["sales"],
    )
    fresh = Device.objects.get(pk=device.pk)
    assert fresh.organization == org
    assert fresh.serial_number == "C02XYZ123"
    assert fresh.name == "ada-mbp"
    assert (fresh.availability_status, fresh.assignment_status, fresh.assignee) == ("in_stock", "to_assign", None)
    assert fresh.enrollment_status == EnrollmentStatus.AWAITING_ACTIVATION
    assert list(fresh.groups.all()) == [sales]

    history = DeviceHistory.objects.get(device=device)
    assert history.action == DeviceHistory.Action.CREATED
    assert (history.availability_after, history.assignment_after) == ("in_stock", "to_assign")
    audit = AuditEvent.objects.get(event="device.created")
    assert audit.target_id == str(device.pk)
    assert audit.actor_user == admin_user
    assert audit.after["serial_number"] == "C02XYZ123"
    assert audit.after["groups"] == ["Sales"]


def test_create_records_its_source(org, actor):
    device = services.device_create(organization=org, actor=actor, name="imported", source=Source.CSV_IMPORT)
    assert DeviceHistory.objects.get(device=device).source == "csv_import"
    assert AuditEvent.objects.get(event="device.created").source == "csv_import"


@pytest.mark.parametrize("serial", ["C02ADA001", "c02ada001", "  C02ada001  "])
def test_create_duplicate_serial_in_same_org_is_refused(org, device, actor, serial):
    counts = (Device.objects.count(), DeviceHistory.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InvalidInput) as exc:
        services.device_create(organization=org, actor=actor, serial_number=serial, name="copy")
    assert exc.value.field == "serial_number"
    assert (Device.objects.count(), DeviceHistory.objects.count(), AuditEvent.objects.count()) == counts


def test_create_same_serial_in_another_org_is_allowed(other_org, device, actor):
    twin = services.device_create(organization=other_org, actor=actor, serial_number="c02ada001")
    assert twin.serial_number == device.serial_number == "C02ADA001"
    assert twin.organization == other_org


def test_devices_without_serial_do_not_clash(org, actor):
    first = services.device_create(organization=org, actor=actor, name="no-serial-1")
    second = services.device_create(organization=org, actor=actor, name="no-serial-2", serial_number="   ")
    assert first.serial_number == second.serial_number == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "x", "groups": ["Nope"]}, "groups"),
        ({"name": "x", "platform": "amiga"}, "platform"),
        ({"name": "x", "ownership": "borrowed"}, "ownership"),
        ({"name": "x", "usage": "kiosk"}, "usage"),
        ({"name": "x", "availability_status": "in_use"}, "availability_status"),
        ({}, "serial_number"),
        ({"name": "  ", "serial_number": " "}, "serial_number"),
    ],
    ids=["unknown-group", "bad-platform", "bad-ownership", "bad-usage", "status-field", "nothing", "blank"],
)
def test_create_refused_writes_nothing(org, actor, fields, field):
    with pytest.raises(InvalidInput) as exc:
        services.device_create(organization=org, actor=actor, **fields)
    assert exc.value.field == field
    assert not Device.objects.exists()
    assert not DeviceHistory.objects.exists()
    assert not AuditEvent.objects.filter(event__startswith="device.").exists()


def test_create_with_group_of_another_org_is_refused(org, other_org, actor):
    foreign = GroupFactory(organization=other_org, name="Foreign")
    with pytest.raises(InvalidInput):
        services.device_create(organization=org, actor=actor, name="x", groups=["Foreign"])
    with pytest.raises(InvalidInput):
        services.device_create(organization=org, actor=actor, name="x", groups=[foreign])
    assert not Device.objects.exists()


# --- device_update ---------------------------------------------------------------------------


def test_update_normalizes_serial_and_audits_changes_only(device, actor):
    updated = services.device_update(device=device, actor=actor, serial_number=" c02new999 ", model="MacBook Air")
    fresh = Device.objects.get(pk=device.pk)
    assert updated.serial_number == fresh.serial_number == "C02NEW999"
    assert fresh.model == "MacBook Air"
    event = AuditEvent.objects.get(event="device.updated")
    assert event.before == {"serial_number": "C02ADA001", "model": "MacBook Pro"}
    assert event.after == {"serial_number": "C02NEW999", "model": "MacBook Air"}
    # Descriptive edits are not status moves: no history row.
    assert not DeviceHistory.objects.filter(device=device).exists()


def test_update_without_change_writes_no_audit(device, actor):
    services.device_update(device=device, actor=actor, name=device.name, serial_number=device.serial_number.lower())
    assert not AuditEvent.objects.filter(event="device.updated").exists()


def test_update_sets_groups(org, device, actor):
    sales, ops = GroupFactory(organization=org, name="Sales"), GroupFactory(organization=org, name="Ops")
    services.device_update(device=device, actor=actor, groups=["sales", "OPS"])
    assert set(Device.objects.get(pk=device.pk).groups.all()) == {sales, ops}
    event = AuditEvent.objects.get(event="device.updated")
    assert event.after == {"groups": ["Ops", "Sales"]}
    services.device_update(device=device, actor=actor, groups=[])
    assert not Device.objects.get(pk=device.pk).groups.exists()


def test_update_duplicate_serial_is_refused(org, device, actor):
    other = DeviceFactory(organization=org, serial_number="C02OTHER1")
    with changes_nothing(other), pytest.raises(InvalidInput) as exc:
        services.device_update(device=other, actor=actor, serial_number="c02ada001", name="renamed")
    assert exc.value.field == "serial_number"


def test_update_keeping_own_serial_is_allowed(device, actor):
    services.device_update(device=device, actor=actor, serial_number="C02ADA001", name="renamed")
    assert Device.objects.get(pk=device.pk).name == "renamed"


def test_update_unknown_group_is_refused(org, device, actor):
    device.groups.add(GroupFactory(organization=org, name="Sales"))
    with changes_nothing(device), pytest.raises(InvalidInput) as exc:
        services.device_update(device=device, actor=actor, name="renamed", groups=["Sales", "Ghosts"])
    assert exc.value.field == "groups"
    assert "Ghosts" in exc.value.message


def test_update_cannot_change_statuses(device, actor):
    with changes_nothing(device), pytest.raises(InvalidInput) as exc:
        services.device_update(device=device, actor=actor, availability_status="archived")
    assert exc.value.field == "availability_status"


def test_update_with_stale_version_is_a_conflict(device, actor):
    with changes_nothing(device), pytest.raises(ConcurrentChange):
        services.device_update(device=device, actor=actor, name="renamed", expected_version=device.version + 1)


def test_update_bumps_version_so_a_stale_form_is_refused(device, actor):
    opened_at = device.version
    updated = services.device_update(device=device, actor=actor, name="renamed")
    assert updated.version == opened_at + 1
    with changes_nothing(device), pytest.raises(ConcurrentChange):
        services.device_update(device=device, actor=actor, name="again", expected_version=opened_at)


def test_update_cannot_blank_both_serial_and_name(device, actor):
    with changes_nothing(device), pytest.raises(InvalidInput):
        services.device_update(device=device, actor=actor, serial_number="", name="")


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


def test_a_failing_device_created_step_leaves_the_device_created_and_no_half_write(org, actor, monkeypatch):
    from core.hooks import Steps

    steps = Steps("device_created", isolated=True, savepoints=True)
    monkeypatch.setattr(services, "device_created", steps)

    def half_then_fail(*, device, actor):
        Device.objects.filter(pk=device.pk).update(name="half-written")
        raise RuntimeError("boom")

    steps.register(half_then_fail, name="broken")
    device = services.device_create(organization=org, actor=actor, serial_number="HOOK1", name="kept")
    device.refresh_from_db()
    assert device.name == "kept"  # the step's savepoint was rolled back, the creation stands


# --- bulk assignment ----------------------------------------------------------------------------


def test_assign_many_writes_what_device_assign_writes(org, actor):
    ada, bob = EmployeeFactory(organization=org), EmployeeFactory(organization=org)
    first, second = DeviceFactory(organization=org), DeviceFactory(organization=org)
    assigned = services.device_assign_many(organization=org, actor=actor, source=Source.CSV_IMPORT, assignments=[
        services.Assignment(first.pk, ada, "line 2"), services.Assignment(second.pk, bob),
    ])
    assert {d.pk for d in assigned} == {first.pk, second.pk}
    for device, owner in ((first, ada), (second, bob)):
        device.refresh_from_db()
        assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "assigned", owner)
        assert device.version == 2
        history = device.history.get()
        assert (history.action, history.source, history.assignee_after) == ("assigned", "csv_import", owner)
        event = AuditEvent.objects.for_org(org).for_target(device).get(event="device.assigned")
        assert event.after["assignee"] == owner.email and event.source == "csv_import"
    assert AuditEvent.objects.for_org(org).get(target_id=str(first.pk), event="device.assigned").after["reason"] == (
        "line 2")


@pytest.mark.parametrize("spoiler", ["archived", "assigned", "offboarded", "twice"])
def test_assign_many_is_all_or_nothing(org, actor, spoiler):
    ada = EmployeeFactory(organization=org)
    good, bad = DeviceFactory(organization=org), DeviceFactory(organization=org)
    employee_for_bad = ada
    if spoiler == "archived":
        services.device_archive(device=bad, actor=actor)
    elif spoiler == "assigned":
        services.device_assign(device=bad, employee=EmployeeFactory(organization=org), actor=actor)
    elif spoiler == "offboarded":
        employee_for_bad = EmployeeFactory(organization=org, status="offboarded")
    lines = [services.Assignment(good.pk, ada), services.Assignment(bad.pk, employee_for_bad)]
    if spoiler == "twice":
        lines.append(services.Assignment(good.pk, ada))
    with pytest.raises(DomainError):
        services.device_assign_many(organization=org, actor=actor, source=Source.CSV_IMPORT, assignments=lines)
    good.refresh_from_db()
    assert good.assignee_id is None and not good.history.filter(action="assigned").exists()


def test_assign_many_never_reaches_another_organizations_device(org, other_org, actor):
    mine = EmployeeFactory(organization=org)
    theirs = DeviceFactory(organization=other_org)
    with pytest.raises(InvalidInput, match="Unknown device"):
        services.device_assign_many(organization=org, actor=actor, source=Source.MANUAL,
                                    assignments=[services.Assignment(theirs.pk, mine)])
    theirs.refresh_from_db()
    assert theirs.assignee_id is None
