"""HR API: offboard by id and by external id, idempotency, validation, list/detail/cancel."""

from datetime import date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent, Employee
from devices.models import AvailabilityStatus, Device
from offboarding import services
from offboarding.models import Offboarding, OffboardingDevice
from tests.conftest import api_client_for, assert_error, token_key
from tests.factories import EmployeeFactory
from tests.offboarding.conftest import hand


def _url(employee):
    return f"/api/v1/employees/{employee.pk}/offboard/"


def _nothing_changed(leaver, devices):
    leaver.refresh_from_db()
    assert leaver.is_active
    assert not Offboarding.objects.exists()
    for device in devices:
        device.refresh_from_db()
        assert device.assignee == leaver


def test_offboard_now_with_decisions_and_the_default_for_the_rest(api, org, actor, leaver, bob):
    keep, other = hand(org, leaver, actor, 2)
    response = api.post(_url(leaver), {"devices": [
        {"device": keep.pk, "action": "reassign", "reassign_to": bob.email, "wipe": False}]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed" and body["origin"] == "api"
    assert body["employee"]["email"] == "lea@acme.test"
    assert body["started_by"] == "API token “HR tool”"
    rows = {row["device"]["id"]: row for row in body["devices"]}
    assert rows[keep.pk]["action"] == "reassign" and rows[keep.pk]["reassign_to"]["id"] == bob.pk
    assert rows[other.pk] | {"device": None} == {
        "device": None, "action": "return_to_stock", "reassign_to": None, "wipe": True, "by_default": True,
        "status": "applied", "note": "", "applied_at": rows[other.pk]["applied_at"], "wipe_status": "requested",
        "wipe_error": ""}
    keep.refresh_from_db()
    other.refresh_from_db()
    assert keep.assignee == bob and other.availability_status == AvailabilityStatus.IN_STOCK
    assert Employee.objects.get(pk=leaver.pk).status == "offboarded"


def test_offboard_by_external_id_with_a_device_named_by_serial(api, org, actor, leaver):
    [device] = hand(org, leaver, actor, serial_number="C02LEA0001")
    response = api.post("/api/v1/employees/external/HR-77/offboard/", {"devices": [
        {"device": "c02lea0001", "action": "remove_from_fleet"}]}, format="json")
    assert response.status_code == 201, response.content
    device.refresh_from_db()
    assert device.availability_status == AvailabilityStatus.ARCHIVED
    assert api.post("/api/v1/employees/external/NOPE/offboard/", {}, format="json").status_code == 404


def test_the_same_request_twice_makes_one_case(api, org, actor, leaver, bob):
    [device] = hand(org, leaver, actor)
    body = {"effective_date": "2099-01-31", "devices": [
        {"device": device.pk, "action": "reassign", "reassign_to": bob.pk}]}
    first = api.post(_url(leaver), body, format="json")
    second = api.post(_url(leaver), body, format="json")
    assert first.status_code == 201 and second.status_code == 200, second.content
    assert first.json()["id"] == second.json()["id"] and first.json()["status"] == "scheduled"
    assert Offboarding.objects.count() == 1
    assert AuditEvent.objects.filter(event="offboarding.started").count() == 1
    # A different request for the same employee is a conflict while that case is open.
    other = api.post(_url(leaver), {"effective_date": "2099-02-01"}, format="json")
    assert_error(other, 409, code="illegal_transition")
    # A completed case answers its own request again, too.
    assert api.post(f"/api/v1/offboardings/{first.json()['id']}/cancel/", {}, format="json").status_code == 200
    now = api.post(_url(leaver), {}, format="json")
    again = api.post(_url(leaver), {}, format="json")
    assert now.status_code == 201 and again.status_code == 200 and now.json()["id"] == again.json()["id"]
    assert now.json()["status"] == "completed"


def test_idempotency_key_header(api, org, actor, leaver):
    hand(org, leaver, actor)
    first = api.post(_url(leaver), {"effective_date": "2099-01-31"}, format="json", HTTP_IDEMPOTENCY_KEY="hr-1")
    again = api.post(_url(leaver), {"effective_date": "2099-01-31", "devices": []}, format="json",
                     HTTP_IDEMPOTENCY_KEY="hr-1")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    other = EmployeeFactory(organization=org)
    assert_error(api.post(_url(other), {}, format="json", HTTP_IDEMPOTENCY_KEY="hr-1"), 400,
                 field="idempotency_key")


def test_without_a_date_the_end_date_ahead_schedules_it(api, org, leaver, freeze):
    freeze(datetime(2026, 11, 21, 10, 0))
    Employee.objects.filter(pk=leaver.pk).update(end_date=date(2026, 12, 31))
    body = api.post(_url(leaver), {}, format="json").json()
    assert body["status"] == "scheduled" and body["effective_date"] == "2026-12-31"


@pytest.mark.parametrize("devices, field, message", [
    ([{"device": 999999, "action": "return_to_stock"}], "devices", "No device"),
    ([{"device": "OTHER", "action": "return_to_stock"}], "devices", "not held by Lea Leaver"),
    ([{"device": "MINE", "action": "reassign", "reassign_to": "gone@acme.test"}], "devices", "offboarded"),
    ([{"device": "MINE", "action": "reassign", "reassign_to": "ghost@acme.test"}], "devices", "No employee"),
    ([{"device": "MINE", "action": "reassign"}], "devices", "reassign_to"),
    ([{"device": "MINE", "action": "shred"}], "devices.0.action", "not a valid choice"),
    ([{"device": "MINE", "action": "return_to_stock", "colour": "red"}], "devices.0.colour", "Unknown field"),
])
def test_bad_requests_are_refused_clearly_and_change_nothing(api, org, actor, leaver, bob, devices, field, message):
    [mine] = hand(org, leaver, actor, serial_number="MINE")
    hand(org, bob, actor, serial_number="OTHER")
    EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    body = assert_error(api.post(_url(leaver), {"devices": devices}, format="json"), 400, field=field)
    assert message in body["detail"] or message in str(body["fields"])
    _nothing_changed(leaver, [mine])


def test_past_date_is_refused(api, org, actor, leaver, freeze):
    freeze(datetime(2026, 11, 21, 10, 0))
    [mine] = hand(org, leaver, actor)
    assert_error(api.post(_url(leaver), {"effective_date": "2026-11-20"}, format="json"), 400,
                 field="effective_date")
    _nothing_changed(leaver, [mine])


def test_offboarded_employee_and_unknown_employee(api, org, leaver):
    api.post(_url(leaver), {}, format="json")
    assert_error(api.post(_url(leaver), {"effective_date": "2099-01-01"}, format="json"), 409)
    assert_error(api.post("/api/v1/employees/999999/offboard/", {}, format="json"), 404, code="not_found")


def test_read_token_cannot_offboard(org, leaver):
    read = api_client_for(token_key(org, "read"))
    assert_error(read.post(_url(leaver), {}, format="json"), 403)
    assert not Offboarding.objects.exists()


def test_list_detail_filters_and_cancel(api, org, actor, leaver, bob):
    hand(org, leaver, actor, 2)
    scheduled = api.post(_url(leaver), {"effective_date": "2099-03-01"}, format="json").json()
    api.post(_url(bob), {}, format="json")
    listing = api.get("/api/v1/offboardings/").json()
    assert listing["count"] == 2
    assert [r["id"] for r in api.get("/api/v1/offboardings/?status=scheduled").json()["results"]] == [scheduled["id"]]
    assert api.get("/api/v1/offboardings/?employee_email=BOB@acme.test").json()["count"] == 1
    assert_error(api.get("/api/v1/offboardings/?colour=red"), 400)
    detail = api.get(f"/api/v1/offboardings/{scheduled['id']}/").json()
    assert len(detail["devices"]) == 2
    cancelled = api.post(f"/api/v1/offboardings/{scheduled['id']}/cancel/", {"reason": "Stays"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "Stays"
    assert_error(api.post(f"/api/v1/offboardings/{scheduled['id']}/cancel/", {}, format="json"), 409)
    assert OffboardingDevice.objects.filter(offboarding_id=scheduled["id"]).count() == 2


def test_list_query_count_does_not_grow_with_the_page(api, org, actor):
    def make(n):
        for _ in range(n):
            employee = EmployeeFactory(organization=org)
            hand(org, employee, actor, 2)
            services.offboarding_start(organization=org, employee=employee, actor=actor)

    make(2)
    api.get("/api/v1/offboardings/")  # the token's first use of the run is recorded once
    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/v1/offboardings/").status_code == 200
    make(6)
    with CaptureQueriesContext(connection) as many:
        assert api.get("/api/v1/offboardings/").json()["count"] == 8
    assert len(many) == len(few)


def test_openapi_schema_lists_the_endpoints(client):
    schema = client.get("/api/schema/").content.decode()
    for path in ("/api/v1/employees/{id}/offboard/", "/api/v1/employees/external/{external_id}/offboard/",
                 "/api/v1/offboardings/{id}/cancel/"):
        assert path in schema


def test_devices_are_untouched_by_a_scheduled_request(api, org, actor, leaver):
    [device] = hand(org, leaver, actor)
    api.post(_url(leaver), {"effective_date": "2099-01-01"}, format="json")
    device.refresh_from_db()
    assert device.assignee == leaver and Device.objects.get(pk=device.pk).availability_status == "in_use"


def test_a_twin_request_that_lost_the_race_answers_the_winners_case(api, org, actor, leaver, monkeypatch):
    first = api.post(_url(leaver), {}, format="json")
    assert first.status_code == 201
    original = services._replay
    calls = []

    def missed_once(*args):
        calls.append(1)
        return None if len(calls) == 1 else original(*args)  # its first look came before the winner committed

    monkeypatch.setattr(services, "_replay", missed_once)
    again = api.post(_url(leaver), {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and len(calls) == 2
    assert Offboarding.objects.count() == 1
