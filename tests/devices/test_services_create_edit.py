"""Creating and editing a device through ``devices.services`` (``device_create``, ``device_update``): normalized
fields, unique serials per organization, groups of the organization, an audit of what changed, version checks."""

import pytest

from core.audit import Source
from core.errors import ConcurrentChange, InvalidInput
from core.models import AuditEvent
from devices import services
from devices.models import Device, DeviceHistory, EnrollmentStatus
from tests.devices.service_checks import changes_nothing
from tests.factories import DeviceFactory, GroupFactory

pytestmark = pytest.mark.django_db


# --- device_create --------------------------------------------------------------------------------


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


# --- device_update --------------------------------------------------------------------------------


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
