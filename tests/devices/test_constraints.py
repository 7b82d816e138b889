"""The DB itself refuses (availability, assignment, assignee) combinations DESIGN §3 does not allow.

Writes here bypass the services on purpose (``QuerySet.update``, ``save``, ``create``): the check
constraint ``device_allowed_status_pairs`` is the last line of defence.
"""

import pytest
from django.db import IntegrityError, transaction

from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db

OWNER = "owner"  # placeholder: the test puts a real employee there

LEGAL = [
    ("in_use", "assigned", OWNER),
    ("in_stock", "to_assign", None),
    ("in_use", "to_assign", None),
    ("archived", None, None),
]

ILLEGAL = [
    ("in_use", "assigned", None),  # assigned without an assignee
    ("in_use", "to_assign", OWNER),  # to assign but someone has it
    ("in_use", None, None),
    ("in_use", None, OWNER),
    ("in_stock", "assigned", OWNER),  # in stock cannot be assigned
    ("in_stock", "assigned", None),
    ("in_stock", "to_assign", OWNER),
    ("in_stock", None, None),
    ("archived", "to_assign", None),  # archived has no assignment status
    ("archived", "assigned", OWNER),
    ("archived", "assigned", None),
    ("archived", None, OWNER),  # archived keeps no owner
    ("lost", "to_assign", None),  # unknown availability
    ("in_use", "borrowed", OWNER),  # unknown assignment status
    ("in_stock", "", None),
]

IDS_LEGAL = ["-".join(str(part) for part in combo) for combo in LEGAL]
IDS_ILLEGAL = ["-".join(str(part) for part in combo) for combo in ILLEGAL]


@pytest.fixture
def owner(org):
    return EmployeeFactory(organization=org)


def _values(combo, owner):
    availability, assignment, assignee = combo
    return {
        "availability_status": availability,
        "assignment_status": assignment,
        "assignee": owner if assignee == OWNER else None,
    }


def _row(device):
    return Device.objects.filter(pk=device.pk).values(
        "availability_status", "assignment_status", "assignee_id"
    ).get()


@pytest.mark.parametrize("combo", ILLEGAL, ids=IDS_ILLEGAL)
def test_update_with_illegal_combination_is_rejected(device, owner, combo):
    before = _row(device)
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.filter(pk=device.pk).update(**_values(combo, owner))
    assert _row(device) == before


@pytest.mark.parametrize("combo", ILLEGAL, ids=IDS_ILLEGAL)
def test_save_with_illegal_combination_is_rejected(device, owner, combo):
    before = _row(device)
    for key, value in _values(combo, owner).items():
        setattr(device, key, value)
    with pytest.raises(IntegrityError), transaction.atomic():
        device.save()
    assert _row(device) == before


@pytest.mark.parametrize("combo", ILLEGAL, ids=IDS_ILLEGAL)
def test_insert_with_illegal_combination_is_rejected(org, owner, combo):
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(organization=org, serial_number="ILLEGAL1", **_values(combo, owner))
    assert not Device.objects.filter(serial_number="ILLEGAL1").exists()


@pytest.mark.parametrize("combo", LEGAL, ids=IDS_LEGAL)
def test_update_with_legal_combination_is_accepted(device, owner, combo):
    values = _values(combo, owner)
    with transaction.atomic():
        assert Device.objects.filter(pk=device.pk).update(**values) == 1
    assert _row(device) == {
        "availability_status": values["availability_status"],
        "assignment_status": values["assignment_status"],
        "assignee_id": owner.pk if values["assignee"] else None,
    }


@pytest.mark.parametrize("combo", LEGAL, ids=IDS_LEGAL)
def test_save_and_insert_with_legal_combination_are_accepted(org, owner, combo):
    device = DeviceFactory(organization=org, **_values(combo, owner))
    device.name = "renamed"
    device.save()
    fresh = Device.objects.get(pk=device.pk)
    assert (fresh.availability_status, fresh.assignment_status, fresh.assignee) == (
        combo[0], combo[1], owner if combo[2] else None
    )
    assert fresh.name == "renamed"


def test_constraint_is_declared_on_the_model():
    names = {constraint.name for constraint in Device._meta.constraints}
    assert "device_allowed_status_pairs" in names


def test_bulk_update_with_one_illegal_row_rolls_back_all(org, owner):
    devices = DeviceFactory.create_batch(3, organization=org)
    devices[1].assignee = owner  # in stock with an owner: illegal
    devices[0].name = devices[2].name = "changed"
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.bulk_update(devices, ["name", "assignee"])
    assert not Device.objects.filter(name="changed").exists()
    assert not Device.objects.filter(assignee__isnull=False).exists()
