"""A device's page and adding a device (devices.views.device_detail and device_create), and what a viewer and a
technician may do there."""

import pytest
from django.urls import reverse

from core.models import AuditEvent, Membership
from devices import services as device_services
from devices.models import Device
from tests.cockpit.pages import client_for, fleet_of_every_state, move_url, reload, url
from tests.conftest import member
from tests.factories import GroupFactory

# --- helpers and fixtures -------------------------------------------------------------------------


@pytest.fixture
def fleet(org, employee, actor):
    return fleet_of_every_state(org, employee, actor)


@pytest.fixture
def viewer_client(client, org):
    return client_for(client, member(org, Membership.Role.VIEWER))


@pytest.fixture
def technician_client(client, org):
    return client_for(client, member(org, Membership.Role.TECHNICIAN))


def response_actions(client, org, device) -> set[str]:
    html = client.get(url("device_detail", org, device.pk)).content.decode()
    prefix = f"/o/{org.slug}/devices/{device.pk}/"
    moves = {"assign", "reassign", "unassign", "return-to-stock", "archive", "restore"}
    return {move for move in moves if f'href="{prefix}{move}/"' in html}


# --- device page ----------------------------------------------------------------------------------


def test_device_page_shows_badges_owner_facts_and_history(cockpit_client, org, employee, actor):
    device = device_services.device_create(
        organization=org, actor=actor, serial_number="C02ASG001", name="assigned-mbp", platform="macos",
        model="MacBook Pro",
    )
    device = device_services.device_assign(device=device, employee=employee, actor=actor, reason="New starter")
    response = cockpit_client.get(url("device_detail", org, device.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="badge badge-ok">In use</span>' in html
    assert '<span class="badge badge-ok">Assigned</span>' in html
    assert '<span class="badge badge-info">Awaiting activation</span>' in html
    assert reverse("employee_detail", args=[org.slug, employee.pk]) in html
    assert "Ada Lovelace" in html and "ada@acme.test" in html
    assert "C02ASG001" in html and "MacBook Pro" in html
    history = html.split('id="device-history"', 1)[1]
    assert "assigned assigned-mbp to ada@acme.test" in history
    assert "“New starter”" in history
    assert "added the device assigned-mbp" in history
    # Newest first.
    assert history.index("assigned assigned-mbp") < history.index("added the device")


def test_device_page_offers_only_the_moves_the_state_allows(cockpit_client, org, device, assigned_device, actor):
    actions = response_actions(cockpit_client, org, assigned_device)
    assert actions == {"reassign", "unassign", "return-to-stock", "archive"}
    assert response_actions(cockpit_client, org, device) == {"assign", "archive"}
    archived = device_services.device_archive(device=device, actor=actor)
    assert response_actions(cockpit_client, org, archived) == {"restore"}


def test_device_page_shows_enrollment_issues(cockpit_client, org, fleet):
    html = cockpit_client.get(url("device_detail", org, fleet["broken"].pk)).content.decode()
    assert "Enrollment issues" in html
    assert "Agent missing" in html and "Offline" in html


def test_unknown_device_is_404(cockpit_client, org):
    assert cockpit_client.get(url("device_detail", org, 999999)).status_code == 404
    assert cockpit_client.get(f"/o/{org.slug}/devices/999999/assign/").status_code == 404


# --- add a device ---------------------------------------------------------------------------------


def test_add_a_device(cockpit_client, org):
    group = GroupFactory(organization=org, name="Engineering")
    response = cockpit_client.post(url("device_create", org), {
        "serial_number": "c02new001", "name": "new-mbp", "platform": "macos", "model": "MacBook Air",
        "ownership": "corporate", "usage": "individual", "groups": [group.pk],
    })
    assert response.status_code == 302
    device = Device.objects.get(organization=org, serial_number="C02NEW001")
    assert response["Location"] == reverse("device_detail", args=[org.slug, device.pk])
    assert list(device.groups.all()) == [group]
    assert AuditEvent.objects.filter(event="device.created", target_id=str(device.pk)).exists()


def test_add_a_device_with_a_duplicate_serial_is_a_form_error(cockpit_client, org, device):
    response = cockpit_client.post(url("device_create", org), {
        "serial_number": device.serial_number.lower(), "platform": "macos", "ownership": "corporate",
        "usage": "individual",
    })
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Device.objects.filter(organization=org).count() == 1


# --- roles ----------------------------------------------------------------------------------------


def test_viewer_sees_no_action_buttons(viewer_client, org, assigned_device):
    response = viewer_client.get(url("device_detail", org, assigned_device.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="device-actions"' not in html
    assert f"/devices/{assigned_device.pk}/unassign/" not in html
    assert "assigned assigned-mbp to ada@acme.test" in html  # the history is still visible
    listing = viewer_client.get(url("device_list", org)).content.decode()
    assert reverse("device_create", args=[org.slug]) not in listing
    assert "Export CSV" in listing
    people = viewer_client.get(url("employee_list", org)).content.decode()
    assert reverse("employee_create", args=[org.slug]) not in people
    assert "New group" not in viewer_client.get(url("group_list", org)).content.decode()


def test_technician_can_act_on_devices(technician_client, org, device, employee):
    response = technician_client.get(url("device_detail", org, device.pk))
    assert 'id="device-actions"' in response.content.decode()
    response = technician_client.post(move_url(org, device, "assign"), {"employee": employee.email, "version": 1})
    assert response.status_code == 302
    assert reload(device).assignee == employee

    response = technician_client.post(url("device_create", org), {
        "serial_number": "tech-001", "name": "spare", "platform": "linux", "ownership": "corporate",
        "usage": "individual",
    })
    assert response.status_code == 302
    created = Device.objects.get(organization=org, serial_number="TECH-001")
    assert (created.availability_status, created.assignment_status) == ("in_stock", "to_assign")
