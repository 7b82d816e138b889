"""The device table's lean indexes (``devices 0011``): devices kept, the foreign keys untouched, reversible; and
the partial indexes still serve the look-ups they exist for (PostgreSQL's planner)."""

import pytest
from django.db import connection

from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory
from tests.migrations import assert_served_by, migrate, table_constraints, table_indexes

FULL = {"devices_device_organization_id_05d6b55a", "devices_device_assignee_id_6d62741f",
        "devices_device_responsible_technician_id_144c3b10"}


def _indexes() -> dict[str, tuple]:
    return table_indexes("devices_device")


def _foreign_keys() -> set[tuple]:
    return {(tuple(c["columns"]), c["foreign_key"]) for c in table_constraints("devices_device").values()
            if c["foreign_key"]}


@pytest.mark.usefixtures("scratch_database")
def test_the_device_table_keeps_its_devices_and_foreign_keys_and_the_full_indexes_come_back():
    old = migrate([("devices", "0010_device_fillfactor")])
    organization = old.get_model("cockpit", "Organization").objects.create(slug="acme", name="Acme")
    employee = old.get_model("cockpit", "Employee").objects.create(
        organization=organization, email="ada@acme.test", full_name="Ada L")
    old.get_model("devices", "Device").objects.create(
        organization=organization, serial_number="S1", availability_status="in_use", assignment_status="assigned",
        assignee=employee, enrollment_status="unknown", enrollment_issues=[], fleet_emails=[], local_accounts=[])
    assert set(_indexes()) >= FULL
    foreign_keys = _foreign_keys()
    assert len(foreign_keys) == 3

    new = migrate([("devices", "0011_lean_indexes")])
    indexes = _indexes()
    assert not FULL & set(indexes)
    assert indexes["device_assignee"] == ("assignee_id",)
    assert indexes["device_technician"] == ("responsible_technician_id",)
    assert indexes["device_org_assignee"] == ("organization_id", "assignee_id")
    assert all(columns[0] == "organization_id" for name, columns in indexes.items()
               if name not in {"device_assignee", "device_technician"})
    assert _foreign_keys() == foreign_keys
    device = new.get_model("devices", "Device").objects.get()
    assert (device.serial_number, device.assignee_id) == ("S1", employee.pk)

    migrate([("devices", "0010_device_fillfactor")])  # reversible
    indexes = _indexes()
    assert set(indexes) >= FULL and "device_assignee" not in indexes and "device_technician" not in indexes
    assert _foreign_keys() == foreign_keys


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.django_db
def test_the_partial_indexes_serve_an_employees_devices():
    """"= x" and "IN (…)" imply NOT NULL, so the planner can read the people's partial indexes (the PROTECT check
    before an employee is deleted looks devices up by assignee alone)."""
    employee = EmployeeFactory()
    DeviceFactory(organization=employee.organization, assignee=employee, availability_status="in_use",
                  assignment_status="assigned")
    Device.objects.bulk_create(Device(organization=employee.organization, serial_number=f"S{n}") for n in range(3000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE devices_device")  # a fleet in stock: the statistics say few devices name anyone
    queries = [  # (the query, the indexes that can serve it)
        (Device.objects.filter(assignee_id__in=[employee.pk, employee.pk + 1]),
         ("device_assignee", "device_org_assignee")),
        (Device.objects.filter(organization=employee.organization, assignee=employee),
         ("device_org_assignee", "device_assignee")),
        (Device.objects.filter(responsible_technician_id=1), ("device_technician",)),
    ]
    for queryset, indexes in queries:
        assert_served_by(queryset, indexes)
