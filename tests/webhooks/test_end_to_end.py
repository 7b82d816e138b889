"""From a change to a verified request: an endpoint made through the API, a change made through the API or a service,
the relay pass and the sender (the real Celery tasks, in-process), and a receiver on loopback that verifies every
request with the ``standardwebhooks`` package. Each event type's payload, as the receiver got it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from core.models import Employee
from devices import commands, handover
from devices import services as device_services
from devices.models import DeviceCommand
from mdm_sync.models import SyncRun
from offboarding import services as offboarding_services
from tests.conftest import api_client_for, sync_now, token_key
from tests.factories import DeviceFactory, EmployeeFactory
from tests.webhooks.conftest import ALL_TYPES
from webhooks.models import Delivery, Message

pytestmark = pytest.mark.usefixtures("send_now")


def test_an_assignment_through_the_api_reaches_the_receiver_signed(org, api, receiver, relay, employee, device):
    created = api.post("/api/v1/webhooks/endpoints/", {
        "url": receiver.url, "event_types": ["device.assigned"], "description": "Workday"}, format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)

    assert api.post(f"/api/v1/devices/{device.pk}/assign/", {"employee": employee.email},
                    format="json").status_code == 200
    outcome = relay()

    assert outcome["deliveries"] == 1
    (got,) = receiver.received
    assert got.verified, got.error
    assert got.path == "/hooks/fleet"
    assert got.headers["Content-Type"] == "application/json"
    message = Message.objects.get()
    assert got.headers["webhook-id"] == message.public_id and message.public_id.startswith("msg_")
    payload = got.payload
    assert payload["type"] == "device.assigned"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"]["device"] == {
        "id": device.pk, "serial_number": "C02ADA001", "name": "ada-mbp", "platform": "macos",
        "availability_status": "in_use", "assignment_status": "assigned", "enrollment_status": "awaiting_activation",
        "enrollment_issues": []}
    assert payload["data"]["employee"] == {"id": employee.pk, "email": "ada@acme.test", "external_id": None,
                                           "full_name": "Ada Lovelace"}
    assert payload["data"]["previous_employee"] is None
    assert payload["data"]["source"] == "api"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)


def test_a_second_relay_pass_sends_nothing_again(org, endpoint, receiver, relay, employee, device, actor):
    device_services.device_assign(device=device, employee=employee, actor=actor)
    assert relay()["deliveries"] == 1
    assert relay()["deliveries"] == 0
    assert len(receiver.received) == 1


def test_a_reassignment_tells_the_old_owner_and_the_new_one(org, endpoint, receiver, relay, assigned_device, actor):
    bob = EmployeeFactory(organization=org, email="bob@acme.test", full_name="Bob", external_id="HR-2")
    relay()
    receiver.received.clear()
    device_services.device_reassign(device=assigned_device, employee=bob, actor=actor, wipe=True)
    relay()

    unassigned, = receiver.payloads("device.unassigned")
    assert unassigned["data"]["employee"]["email"] == "ada@acme.test"
    assert unassigned["data"]["reason"] == "reassigned" and unassigned["data"]["wipe_requested"] is True
    assigned, = receiver.payloads("device.assigned")
    assert assigned["data"]["employee"]["external_id"] == "HR-2"
    assert assigned["data"]["previous_employee"]["email"] == "ada@acme.test"
    assert all(item.verified for item in receiver.received)


@pytest.mark.parametrize("move", ["unassign", "return_to_stock", "archive"])
def test_a_device_leaving_its_owner_is_unassigned(org, endpoint, receiver, relay, assigned_device, actor, move):
    relay()
    receiver.received.clear()
    getattr(device_services, f"device_{move}")(device=assigned_device, actor=actor)
    relay()
    (payload,) = receiver.payloads()
    assert payload["type"] == "device.unassigned"
    assert payload["data"]["reason"] == {"unassign": "unassigned"}.get(move, {"return_to_stock": "returned_to_stock",
                                                                              "archive": "archived"}.get(move))
    assert payload["data"]["employee"]["email"] == "ada@acme.test"


def test_a_bulk_assignment_is_read_like_any_other(org, endpoint, receiver, relay, actor):
    """``device_assign_many`` (the CSV import's path) writes its audit entries with ``bulk_create``."""
    people = EmployeeFactory.create_batch(3, organization=org)
    devices = DeviceFactory.create_batch(3, organization=org)
    device_services.device_assign_many(organization=org, actor=actor, source="csv_import", assignments=[
        device_services.Assignment(device.pk, person) for device, person in zip(devices, people, strict=True)])
    relay()
    got = {(p["data"]["device"]["id"], p["data"]["employee"]["id"]) for p in receiver.payloads("device.assigned")}
    assert got == {(device.pk, person.pk) for device, person in zip(devices, people, strict=True)}
    assert {p["data"]["source"] for p in receiver.payloads()} == {"csv_import"}


def test_an_employee_created_by_hr(org, endpoint, receiver, relay, api):
    response = api.post("/api/v1/employees/", {"email": "new@acme.test", "full_name": "New Hire",
                                                "external_id": "HR-9", "start_date": "2026-12-01"}, format="json")
    assert response.status_code == 201
    relay()
    (payload,) = receiver.payloads("employee.created")
    assert payload["data"]["employee"] == {
        "id": response.json()["id"], "email": "new@acme.test", "external_id": "HR-9", "full_name": "New Hire",
        "username": "", "domain_name": "", "status": "active", "start_date": "2026-12-01"}
    assert payload["data"]["source"] == ""  # the API's employee_create records no source


def test_an_offboarding_completed(org, endpoint, receiver, relay, assigned_device, actor):
    relay()
    receiver.received.clear()
    employee = assigned_device.assignee
    case, _created = offboarding_services.offboarding_request(
        organization=org, employee=employee, actor=actor, effective_date=None,
        decisions=[{"device": str(assigned_device.pk), "action": "return_to_stock", "wipe": False}])
    relay()
    (payload,) = receiver.payloads("offboarding.completed")
    assert payload["data"]["offboarding"]["id"] == case.pk
    assert payload["data"]["employee"]["email"] == "ada@acme.test"
    assert payload["data"]["devices"] == [{
        "device": {"id": assigned_device.pk, "serial_number": "C02ASG001", "name": "assigned-mbp"},
        "action": "return_to_stock", "wipe": False, "reassign_to": None}]
    assert receiver.payloads("device.unassigned")  # its device went back to stock


def test_a_wipe_confirmed_and_a_wipe_failed(org, endpoint, receiver, relay, assigned_device, actor):
    first = DeviceFactory(organization=org, fleet_host_id=101)
    second = DeviceFactory(organization=org, fleet_host_id=102)
    system = Actor.system("tests")
    for device in (first, second):
        commands.command_request(device=device, kind=DeviceCommand.Kind.WIPE, actor=actor, source="manual")
    confirmed, failed = DeviceCommand.objects.filter(device__in=[first, second]).order_by("device_id")
    commands.command_sent(confirmed, actor=system)
    handover.command_confirm(command=confirmed, actor=system)
    commands.command_failed(failed, actor=system, error="Host is offline")
    relay()
    (ok,) = receiver.payloads("device.wipe_confirmed")
    assert ok["data"]["device"]["id"] == first.pk and ok["data"]["employee"] is None
    (bad,) = receiver.payloads("device.wipe_failed")
    assert bad["data"]["device"]["id"] == second.pk
    assert bad["data"]["error"] == "Host is offline"


def test_a_failed_sync(org, endpoint, receiver, relay, connected, sim):
    sim.faults.status_on_page = {0: 401}
    run = sync_now(org, sim)
    assert run.status == SyncRun.Status.FAILED
    relay()
    relay()  # read again: announced once
    (payload,) = receiver.payloads("sync.failed")
    assert payload["data"]["sync_run"]["id"] == run.pk
    assert payload["data"]["sync_run"]["error"] == run.error[:1000]


def test_only_the_types_an_endpoint_wants_reach_it(org, receiver, relay, api, employee, device):
    created = api.post("/api/v1/webhooks/endpoints/", {"url": receiver.url, "event_types": ["employee.created"]},
                       format="json").json()
    receiver.secrets.append(created["secret"])
    device_services.device_assign(device=device, employee=employee, actor=Actor.system("tests"))
    api.post("/api/v1/employees/", {"email": "second@acme.test"}, format="json")
    relay()
    assert [p["type"] for p in receiver.payloads()] == ["employee.created"]


def test_another_organizations_changes_never_reach_this_endpoint(org, other_org, endpoint, receiver, relay):
    someone = EmployeeFactory(organization=other_org)
    device_services.device_assign(device=DeviceFactory(organization=other_org), employee=someone,
                                  actor=Actor.system("tests"))
    relay()
    assert receiver.received == []


def test_what_happened_before_the_endpoint_existed_is_not_sent(org, receiver, relay, employee, device, actor):
    device_services.device_assign(device=device, employee=employee, actor=actor)
    api = api_client_for(token_key(org))
    created = api.post("/api/v1/webhooks/endpoints/", {"url": receiver.url, "event_types": ALL_TYPES},
                       format="json").json()
    receiver.secrets.append(created["secret"])
    relay()
    assert receiver.received == []
    Employee.objects.filter(pk=employee.pk).update(updated_at=timezone.now())  # not an audited change
    relay()
    assert receiver.received == []


def test_the_delivery_log_shows_what_was_sent(org, endpoint, receiver, relay, employee, device, actor, api):
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    body = api.get(reverse("api:webhookdelivery-list")).json()
    (row,) = body["results"]
    assert row["status"] == "succeeded" and row["message"]["type"] == "device.assigned"
    assert row["message"]["payload"] == receiver.received[0].payload
    assert row["attempt_log"][0]["status_code"] == 204 and row["attempt_log"][0]["succeeded"]
