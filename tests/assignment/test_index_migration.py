"""The pre-assignment tables' lean indexes (``assignment 0006``): rows and groups kept, the foreign keys and the
unique pair untouched, reversible; and the remaining indexes still serve the look-ups the dropped ones did
(PostgreSQL's planner)."""

import pytest
from django.db import connection

from assignment.models import PreAssignment, PreAssignmentGroup
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory, PreAssignmentFactory
from tests.migrations import assert_served_by, migrate, table_constraints, table_indexes

BEFORE, AFTER = ("assignment", "0005_csvimportrow"), ("assignment", "0006_lean_indexes")
FULL = {
    "assignment_preassignment": {"assignment_preassignment_organization_id_487a73c5",
                                 "assignment_preassignment_device_id_4ad56599"},
    "assignment_preassignment_groups": {"assignment_preassignment_groups_preassignment_id_31d42364"},
}


def _kept(table: str) -> set[tuple]:
    """The table's foreign keys and unique constraints, as (columns, what they reference, unique)."""
    return {(tuple(c["columns"]), c["foreign_key"], c["unique"]) for c in table_constraints(table).values()
            if c["foreign_key"] or (c["unique"] and not c["primary_key"])}


@pytest.mark.usefixtures("scratch_database")
def test_the_pre_assignments_keep_their_rows_groups_and_constraints_and_the_full_indexes_come_back():
    old = migrate([BEFORE])
    organization = old.get_model("cockpit", "Organization").objects.create(slug="acme", name="Acme")
    employee = old.get_model("cockpit", "Employee").objects.create(
        organization=organization, email="ada@acme.test", full_name="Ada L")
    groups = [old.get_model("cockpit", "Group").objects.create(organization=organization, name=name)
              for name in ("Sales", "Paris")]
    device = old.get_model("devices", "Device").objects.create(
        organization=organization, serial_number="S1", enrollment_status="unknown", enrollment_issues=[],
        fleet_emails=[])
    pre = old.get_model("assignment", "PreAssignment").objects.create(
        organization=organization, serial_number="S1", employee=employee, device=device, status="conflict",
        source="manual", created_by="Ada")
    pre.groups.set(groups)
    for table, names in FULL.items():
        assert set(table_indexes(table)) >= names
    kept = {table: _kept(table) for table in FULL}
    assert len(kept["assignment_preassignment_groups"]) == 3  # two foreign keys, the unique pair

    new = migrate([AFTER])
    indexes = table_indexes("assignment_preassignment")
    assert not FULL["assignment_preassignment"] & set(indexes)
    assert indexes["preassignment_device"] == ("device_id",)
    assert all(columns[0] == "organization_id" for name, columns in indexes.items()
               if name not in {"preassignment_device", "assignment_preassignment_employee_id_883d04b5"})
    assert {name for name, c in table_constraints("assignment_preassignment_groups").items()
            if c["index"] and not c["unique"]} == {"assignment_preassignment_groups_group_id_2777e6a2"}
    assert {table: _kept(table) for table in FULL} == kept
    moved = new.get_model("assignment", "PreAssignment").objects.get()
    assert (moved.serial_number, moved.device_id) == ("S1", device.pk)
    assert sorted(moved.groups.values_list("name", flat=True)) == ["Paris", "Sales"]
    assert new.get_model("assignment", "PreAssignmentGroup").objects.filter(preassignment=moved).count() == 2

    migrate([BEFORE])  # reversible
    for table, names in FULL.items():
        indexes = table_indexes(table)
        assert set(indexes) >= names and "preassignment_device" not in indexes
        assert _kept(table) == kept[table]


@pytest.mark.django_db
def test_the_groups_of_a_pre_assignment_are_its_through_rows(org):
    pre = PreAssignmentFactory(organization=org)
    sales, paris = GroupFactory(organization=org, name="Sales"), GroupFactory(organization=org, name="Paris")
    pre.groups.set([sales, paris])
    assert PreAssignment.groups.through is PreAssignmentGroup
    assert set(PreAssignmentGroup.objects.filter(preassignment=pre).values_list("group__name", flat=True)) == {
        "Sales", "Paris"}
    pre.groups.remove(paris)
    assert list(pre.groups.values_list("name", flat=True)) == ["Sales"]
    assert list(sales.pre_assignments.all()) == [pre]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.django_db
def test_the_remaining_indexes_serve_the_look_ups_of_the_dropped_ones():
    """A device deleted (SET_NULL finds its pre-assignments by device alone), a pre-assignment's groups (and the
    CASCADE of a deleted pre-assignment): "= x" and "IN (…)" imply NOT NULL, and the unique pair leads with the
    pre-assignment."""
    employee = EmployeeFactory()
    organization = employee.organization
    device = DeviceFactory(organization=organization)
    group = GroupFactory(organization=organization)
    PreAssignment.objects.bulk_create(
        PreAssignment(organization=organization, serial_number=f"S{n}", employee=employee, source="csv_import",
                      created_by="tests") for n in range(3000))
    PreAssignmentGroup.objects.bulk_create(
        PreAssignmentGroup(preassignment_id=pk, group=group) for pk in PreAssignment.objects.values_list("pk",
                                                                                                      flat=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE assignment_preassignment")
        cursor.execute("ANALYZE assignment_preassignment_groups")
    first = PreAssignment.objects.order_by("pk").first()
    queries = [  # (the query, the indexes that can serve it)
        (PreAssignment.objects.filter(device_id__in=[device.pk, device.pk + 1]), ("preassignment_device",)),
        (PreAssignmentGroup.objects.filter(preassignment_id__in=[first.pk, first.pk + 1]),
         ("assignment_preassignment_preassignment_id_group_i_5046b575_uniq",)),
    ]
    for queryset, indexes in queries:
        assert_served_by(queryset, indexes)
