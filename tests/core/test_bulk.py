"""``core.bulk``: the same rows whichever path writes them (``COPY`` on PostgreSQL, the ORM's bulk methods on
SQLite)."""

import json
from datetime import timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import bulk
from core.models import AuditEvent, Employee
from core.paging import _generation
from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db

AWKWARD = "tab\there, new\nline, back\\slash, \\N, quote \" ' , comma; é ✓ \r end"
ASSIGNED = {"availability_status": "in_use", "assignment_status": "assigned"}
NESTED = {"text": AWKWARD, "list": [1, 2.5, None, True, {"deep": ["\\", "\t"]}], "empty": {}, "none": None}


def test_the_path_follows_the_database():
    assert bulk.uses_copy() == (connection.vendor == "postgresql")


def test_insert_rows_keeps_json_text_and_nulls_exactly_and_fills_the_rest(org, actor):
    before = timezone.now()
    ids = bulk.insert_rows(AuditEvent, [
        "organization", "event", "source", "target_type", "target_id", "target_label", "before", "after", "actor_type",
        "actor_user", "actor_label", "request_id",
    ], [
        (org.pk, "device.updated", "csv_import", "devices.device", "1", AWKWARD, {}, NESTED, "user", actor.user.pk,
         "Ada", ""),
        (org.pk, "device.updated", "csv_import", "devices.device", "2", "", {"groups": []}, [], "system", None,
         "System (tests)", "req-1"),
    ], returning_ids=True)

    first, second = (AuditEvent.objects.get(pk=pk) for pk in ids)
    assert (first.target_id, second.target_id) == ("1", "2")  # the ids are the rows', in order
    assert first.target_label == AWKWARD and first.after == NESTED and first.before == {}
    assert first.actor_user == actor.user and second.actor_user is None and second.actor_token is None
    assert second.before == {"groups": []} and second.after == [] and second.request_id == "req-1"
    assert before <= first.created_at <= timezone.now()  # auto_now_add, as save() would
    assert first.created_at == second.created_at or not bulk.uses_copy()


def test_insert_rows_without_ids_gives_defaults_as_save_would(org):
    rows = [(org.pk, "a@acme.test"), (org.pk, "b@acme.test")]
    assert bulk.insert_rows(Employee, ["organization", "email"], rows) == []
    a, b = Employee.objects.for_org(org).order_by("email")
    expected = Employee(organization=org, email="x@acme.test")
    for field in ("full_name", "username", "domain_name", "external_id", "status", "start_date", "language"):
        assert getattr(a, field) == getattr(expected, field), field
    assert a.created_at is not None and a.updated_at is not None and b.email == "b@acme.test"


def test_insert_rows_takes_a_generator_and_writes_nothing_for_no_rows(org):
    bulk.insert_rows(Employee, ["organization", "email"], ((org.pk, f"u{i}@acme.test") for i in range(3)))
    assert Employee.objects.for_org(org).count() == 3
    with CaptureQueriesContext(connection) as queries:
        assert bulk.insert_rows(Employee, ["organization", "email"], iter(())) == []
        assert bulk.insert_rows(Employee, ["organization", "email"], [], returning_ids=True) == []
        assert bulk.update_rows(Employee, ["email"], []) == 0
        assert bulk.staged_update(Employee, [], ["email"]) == 0
    assert len(queries) == 0


def test_insert_rows_refuses_ids_it_would_take_from_the_sequence(org):
    with pytest.raises(ValueError):
        bulk.insert_rows(Employee, ["id", "organization", "email"], [(1, org.pk, "a@acme.test")], returning_ids=True)


def test_a_broken_constraint_is_djangos_integrity_error_and_rolls_back(org):
    EmployeeFactory(organization=org, email="taken@acme.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(Employee, ["organization", "email"], [(org.pk, "new@acme.test"), (org.pk, "TAKEN@acme.test")])
    assert not Employee.objects.filter(email="new@acme.test").exists()


def test_writes_to_a_tracked_model_start_a_new_generation_of_their_organization(org, other_org):
    other = _generation(other_org.pk)
    before = _generation(org.pk)
    [pk] = bulk.insert_rows(Employee, ["organization", "email"], [(org.pk, "a@acme.test")], returning_ids=True)
    assert _generation(org.pk) != before
    before = _generation(org.pk)
    bulk.update_rows(Employee, ["full_name"], [(pk, "Ada")])  # the organization read from the rows updated
    assert _generation(org.pk) != before
    before = _generation(org.pk)
    bulk.staged_update(Employee, [Employee(pk=pk, organization_id=org.pk, full_name="Ada L.")], ["full_name"])
    assert _generation(org.pk) != before
    assert _generation(other_org.pk) == other


def test_update_rows_sets_only_the_named_fields_of_the_named_rows(org, employee):
    a, b, c = (DeviceFactory(organization=org, name=name) for name in ("a", "b", "c"))
    later = timezone.now() + timedelta(hours=1)
    updated = bulk.update_rows(Device, [
        "name", "fleet_emails", "availability_status", "assignment_status", "assignee", "last_seen_at", "updated_at",
    ], [
        (a.pk, AWKWARD, NESTED, "in_use", "assigned", employee.pk, None, later),
        (b.pk, "b2", [], b.availability_status, b.assignment_status, None, later, later),
    ])
    assert updated == 2
    a2, b2, c2 = (Device.objects.get(pk=d.pk) for d in (a, b, c))
    assert (a2.name, a2.fleet_emails, a2.assignee, a2.last_seen_at, a2.updated_at) == (
        AWKWARD, NESTED, employee, None, later)
    assert (b2.name, b2.fleet_emails, b2.assignee, b2.last_seen_at) == ("b2", [], None, later)
    assert (c2.name, c2.updated_at, c2.version) == ("c", c.updated_at, c.version)  # untouched
    assert a2.serial_number == a.serial_number and a2.version == a.version


def test_staged_update_writes_instances_as_they_are_twice_in_one_transaction(org):
    devices = [DeviceFactory(organization=org, name=f"d{i}") for i in range(3)]
    with transaction.atomic():
        for round_ in (1, 2):  # the staging table is dropped after each use: a second call works too
            for device in devices:
                device.name, device.version = f"{device.name}-{round_}", device.version + 1
            assert bulk.staged_update(Device, devices, ["name", "version"]) == 3
    assert [(d.name, d.version) for d in Device.objects.filter(pk__in=[d.pk for d in devices]).order_by("pk")] == [
        (f"d{i}-1-2", devices[i].version) for i in range(3)]


def test_update_rows_outside_a_transaction(org):
    device = DeviceFactory(organization=org, name="before")
    assert bulk.update_rows(Device, ["name"], [(device.pk, "after")]) == 1
    device.refresh_from_db()
    assert device.name == "after"


def test_any_of_looks_many_values_up_in_one_statement(org):
    wanted = [f"S{i}" for i in range(5000)] + [AWKWARD, "Ünïcode ✓", "quote\" and {brace}, comma"]
    bulk.insert_rows(Device, ["organization", "serial_number", "name"], [
        (org.pk, serial, "") for serial in ("S1", "S4999", AWKWARD, "Ünïcode ✓", "quote\" and {brace}, comma",
                                            "NOT-ASKED")])
    with CaptureQueriesContext(connection) as queries:
        found = set(Device.objects.for_org(org).filter(bulk.AnyOf("serial_number", wanted))
                    .values_list("serial_number", flat=True))
    assert found == {"S1", "S4999", AWKWARD, "Ünïcode ✓", "quote\" and {brace}, comma"} and len(queries) == 1
    assert not Device.objects.filter(bulk.AnyOf("serial_number", [])).exists()
    assert Device.objects.filter(bulk.AnyOf("organization__slug", [org.slug])).count() == 6  # across a join


@pytest.mark.parametrize("value", [NESTED, [], {}, "plain", 2**70, {1: "int key", "b": [1.5, -0.0, 1e300]},
                                   {"line\u2028sep": "é ✓ \x00\x1f"}])
def test_json_text_is_the_value_json_dumps_writes(value):
    assert json.loads(bulk.json_text(value)) == json.loads(json.dumps(value))


def test_json_text_leaves_what_msgspec_cannot_write_and_custom_encoders_to_json_dumps():
    assert bulk.json_text({True: 1, None: 2}) == json.dumps({True: 1, None: 2})  # keys msgspec refuses
    moment = timezone.now()
    assert bulk.json_text({"at": moment}, DjangoJSONEncoder) == json.dumps({"at": moment}, cls=DjangoJSONEncoder)
