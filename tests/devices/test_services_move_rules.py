"""What every device move in ``devices.services`` shares: the whole matrix of moves and states, and the
optimistic version check; the domain errors they raise share one base."""

import pytest

from core.errors import ConcurrentChange, DomainError, IllegalTransition, InvalidInput
from devices import services
from devices.models import Device, DeviceHistory
from tests.devices.service_checks import STATES, changes_nothing, device_maker, one_history_and_audit, statuses
from tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Byte", email="bob@acme.test")


@pytest.fixture
def make_device(org, employee):
    return device_maker(org, employee)


# --- the whole matrix: every move from every state ------------------------------------------------


MOVES = {
    "assign": lambda d, emp, other, actor: services.device_assign(device=d, employee=other, actor=actor),
    "unassign": lambda d, emp, other, actor: services.device_unassign(device=d, actor=actor),
    "reassign": lambda d, emp, other, actor: services.device_reassign(device=d, employee=other, actor=actor),
    "return_to_stock": lambda d, emp, other, actor: services.device_return_to_stock(device=d, actor=actor),
    "archive": lambda d, emp, other, actor: services.device_archive(device=d, actor=actor),
    "restore": lambda d, emp, other, actor: services.device_restore(device=d, actor=actor),
}


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


# --- optimistic concurrency -----------------------------------------------------------------------


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
