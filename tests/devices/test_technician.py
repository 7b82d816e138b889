"""Shared and kiosk devices answer to a responsible IT technician instead of an owner (DESIGN §3)."""

import pytest

from core.errors import IllegalTransition, InvalidInput
from core.models import AuditEvent, Membership
from devices import services
from devices.models import Device, EnrollmentStatus, Usage
from tests.conftest import member
from tests.factories import DeviceFactory


@pytest.fixture
def technician(org):
    return member(org, Membership.Role.TECHNICIAN, username="tech@acme.test", email="tech@acme.test")


def test_a_shared_device_gets_a_technician_and_needs_no_owner(org, actor, technician):
    device = services.device_create(organization=org, actor=actor, name="kiosk-1", platform="ipados",
                                    usage=Usage.SHARED, responsible_technician=technician)
    assert device.responsible_technician == technician
    device.mdm_enrolled_at = device.created_at
    assert services.device_enrollment_status(device) == EnrollmentStatus.ENROLLED
    event = AuditEvent.objects.for_org(org).get(event="device.created")
    assert event.after["responsible_technician"] == "tech@acme.test"


def test_an_individual_device_refuses_a_technician(org, actor, technician):
    with pytest.raises(InvalidInput) as error:
        services.device_create(organization=org, actor=actor, name="laptop", responsible_technician=technician)
    assert error.value.field == "responsible_technician"


@pytest.mark.parametrize("role", [Membership.Role.VIEWER, None])
def test_the_technician_must_be_allowed_to_act_on_devices_in_this_organization(org, other_org, actor, role):
    user = member(org, role) if role else member(other_org, Membership.Role.TECHNICIAN)
    with pytest.raises(InvalidInput):
        services.device_create(organization=org, actor=actor, name="kiosk", usage=Usage.SHARED,
                               responsible_technician=user)


def test_switching_back_to_individual_use_drops_the_technician(org, actor, technician):
    device = DeviceFactory(organization=org, usage=Usage.SHARED, responsible_technician=technician)
    device = services.device_update(device=device, actor=actor, usage=Usage.INDIVIDUAL)
    assert device.responsible_technician is None
    event = AuditEvent.objects.for_org(org).get(event="device.updated")
    assert event.before["responsible_technician"] == "tech@acme.test" and event.after["responsible_technician"] is None


def test_api_sets_and_shows_the_technician_by_login(api, org, technician):
    response = api.post("/api/v1/devices/", {"name": "kiosk-2", "usage": "shared",
                                             "responsible_technician": "TECH@acme.test"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["responsible_technician"] == "tech@acme.test"
    listed = api.get("/api/v1/devices/").json()["results"][0]
    assert listed["responsible_technician"] == "tech@acme.test"
    cleared = api.patch(f"/api/v1/devices/{listed['id']}/", {"responsible_technician": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["responsible_technician"] is None


def test_api_unknown_technician_is_400_naming_the_field(api, org):
    response = api.post("/api/v1/devices/", {"name": "kiosk-3", "usage": "shared",
                                             "responsible_technician": "nobody@acme.test"}, format="json")
    assert response.status_code == 400
    assert "responsible_technician" in response.json()["fields"]


def test_cockpit_form_offers_only_the_organizations_technicians(cockpit_client, org, other_org, technician):
    outsider = member(other_org, Membership.Role.TECHNICIAN, username="outsider@globex.test")
    viewer = member(org, Membership.Role.VIEWER, username="viewer@acme.test")
    body = cockpit_client.get(f"/o/{org.slug}/devices/new/").content.decode()
    assert "tech@acme.test" in body
    assert outsider.username not in body and viewer.username not in body


# --- a shared device never gets an owner, whatever the path (issue #10 §2) --------------------------------


@pytest.fixture
def kiosk(org, technician):
    return DeviceFactory(organization=org, name="kiosk-7", usage=Usage.SHARED, responsible_technician=technician)


def test_assign_refuses_a_shared_device_naming_its_technician(org, actor, employee, kiosk):
    with pytest.raises(IllegalTransition) as error:
        services.device_assign(device=kiosk, employee=employee, actor=actor)
    assert "tech@acme.test" in error.value.message and "individual use" in error.value.message
    kiosk.refresh_from_db()
    assert kiosk.assignee is None and not kiosk.history.exists()


def test_bulk_assignment_refuses_a_shared_device_and_writes_nothing(org, actor, employee, kiosk):
    spare = DeviceFactory(organization=org)
    with pytest.raises(IllegalTransition, match="shared device"):
        services.device_assign_many(organization=org, actor=actor, source="csv_import", assignments=[
            services.Assignment(device_id=spare.pk, employee=employee),
            services.Assignment(device_id=kiosk.pk, employee=employee),
        ])
    spare.refresh_from_db()
    assert spare.assignee is None


def test_reassign_refuses_a_shared_device_that_somehow_has_an_owner(org, actor, employee, kiosk):
    from core.models import Employee

    other = Employee.objects.create(organization=org, email="other@acme.test")
    Device.objects.filter(pk=kiosk.pk).update(assignee=employee, availability_status="in_use",
                                              assignment_status="assigned")  # e.g. data from before the rule
    with pytest.raises(IllegalTransition, match="shared device"):
        services.device_reassign(device=kiosk, employee=other, actor=actor)
    # Taking the owner away stays possible.
    assert services.device_unassign(device=kiosk, actor=actor).assignee is None


def test_api_assign_of_a_shared_device_is_illegal_transition(org, employee, kiosk, api):
    from tests.conftest import assert_error

    response = api.post(f"/api/v1/devices/{kiosk.pk}/assign/", {"employee": employee.email}, format="json")
    body = assert_error(response, 409, code="illegal_transition")
    assert "tech@acme.test" in body["detail"]


def test_switched_to_individual_use_it_can_be_assigned(org, actor, employee, kiosk):
    device = services.device_update(device=kiosk, actor=actor, usage=Usage.INDIVIDUAL)
    assert services.device_assign(device=device, employee=employee, actor=actor).assignee == employee
