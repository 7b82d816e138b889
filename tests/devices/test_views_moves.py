"""Moving a device from the cockpit (devices.views.device_move): the confirmation page, each move posted, stale
versions and illegal moves, and who may post one."""

import pytest
from django.urls import reverse

from core.models import AuditEvent, Employee, Membership
from devices import services as device_services
from devices.models import DeviceHistory
from tests.cockpit.pages import client_for, move_url, reload, url
from tests.conftest import member
from tests.factories import EmployeeFactory

# --- helpers and fixtures -------------------------------------------------------------------------


@pytest.fixture
def viewer_client(client, org):
    return client_for(client, member(org, Membership.Role.VIEWER))


# --- who may post ---------------------------------------------------------------------------------


def test_anonymous_cannot_post_a_move(client, device):
    response = client.post(move_url(device.organization, device, "archive"), {"version": device.version})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert reload(device).availability_status == "in_stock"


@pytest.mark.parametrize("move", ["unassign", "return-to-stock", "archive", "reassign"])
def test_viewer_cannot_post_a_move(viewer_client, org, assigned_device, move):
    data = {"version": assigned_device.version, "wipe": "on", "employee": "ada@acme.test"}
    response = viewer_client.post(move_url(org, assigned_device, move), data)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    device = reload(assigned_device)
    assert (device.availability_status, device.version) == ("in_use", assigned_device.version)
    assert viewer_client.get(move_url(org, assigned_device, move)).status_code == 403


def test_unknown_move_is_404(cockpit_client, org, device):
    assert cockpit_client.get(move_url(org, device, "teleport")).status_code == 404


# --- the move confirmation page -------------------------------------------------------------------


def test_move_page_prechecks_wipe_when_the_owner_changes(cockpit_client, org, assigned_device):
    for move in ("reassign", "unassign", "return-to-stock", "archive"):
        response = cockpit_client.get(move_url(org, assigned_device, move))
        assert response.status_code == 200
        form = response.context["form"]
        assert form["wipe"].value() is True, move
        assert 'name="wipe" id="id_wipe" checked' in response.content.decode()
        assert form["version"].value() == assigned_device.version


def test_move_page_does_not_precheck_wipe_without_an_owner(cockpit_client, org, device):
    response = cockpit_client.get(move_url(org, device, "archive"))
    assert response.context["form"]["wipe"].value() is False
    assert "checked" not in response.content.decode().split('name="wipe"', 1)[1].split(">", 1)[0]


def test_assign_page_lists_active_employees_and_offers_no_wipe(cockpit_client, org, device, employee):
    gone = EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    response = cockpit_client.get(move_url(org, device, "assign"))
    html = response.content.decode()
    assert "wipe" not in response.context["form"].fields
    assert '<option value="ada@acme.test">' in html
    assert gone.email not in html


# --- posting moves --------------------------------------------------------------------------------


def test_post_assign(cockpit_client, org, device, employee, admin_user):
    response = cockpit_client.post(
        move_url(org, device, "assign"),
        {"employee": "ADA@acme.test", "version": device.version, "reason": "New starter"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("device_detail", args=[org.slug, device.pk])
    device = reload(device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "assigned", employee)
    history = device.history.get(action=DeviceHistory.Action.ASSIGNED)
    assert history.source == "manual" and history.reason == "New starter"
    event = AuditEvent.objects.get(event="device.assigned", target_id=str(device.pk))
    assert event.actor_user == admin_user
    page = cockpit_client.get(response["Location"]).content.decode()
    assert "Assign: done for ada-mbp." in page
    assert "assigned ada-mbp to ada@acme.test" in page


def test_post_assign_accepts_the_datalist_form_name_and_email(cockpit_client, org, device, employee):
    response = cockpit_client.post(
        move_url(org, device, "assign"), {"employee": "Ada Lovelace <ada@acme.test>", "version": device.version}
    )
    assert response.status_code == 302
    assert reload(device).assignee == employee


def test_post_assign_to_an_unknown_email_is_a_form_error(cockpit_client, org, device):
    response = cockpit_client.post(
        move_url(org, device, "assign"), {"employee": "nobody@acme.test", "version": device.version}
    )
    assert response.status_code == 400
    assert "No employee with the e-mail nobody@acme.test." in response.content.decode()
    assert reload(device).assignee is None


def test_post_assign_to_an_offboarded_employee_is_refused(cockpit_client, org, device):
    gone = EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    response = cockpit_client.post(move_url(org, device, "assign"), {"employee": gone.email, "version": device.version})
    assert response.status_code == 400
    assert "offboarded" in response.content.decode()
    assert reload(device).assignee is None
    assert not device.history.filter(action="assigned").exists()


def test_post_assign_does_not_reach_another_organizations_employee(cockpit_client, org, other_org, device):
    foreign = EmployeeFactory(organization=other_org, email="spy@globex.test")
    response = cockpit_client.post(move_url(org, device, "assign"), {"employee": foreign.email, "version": 1})
    assert response.status_code == 400
    assert reload(device).assignee is None


def test_post_reassign_with_wipe(cockpit_client, org, assigned_device, employee):
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    response = cockpit_client.post(
        move_url(org, assigned_device, "reassign"),
        {"employee": grace.email, "wipe": "on", "version": assigned_device.version},
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert device.assignee == grace
    history = device.history.get(action="reassigned")
    assert history.assignee_before == employee and history.assignee_after == grace and history.wipe_requested
    page = cockpit_client.get(url("device_detail", org, device.pk)).content.decode()
    assert "reassigned assigned-mbp from ada@acme.test to grace@acme.test (wipe requested)" in page


def test_post_unassign(cockpit_client, org, assigned_device):
    response = cockpit_client.post(
        move_url(org, assigned_device, "unassign"), {"wipe": "on", "version": assigned_device.version}
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "to_assign", None)
    assert device.history.get(action="unassigned").wipe_requested is True


def test_post_return_to_stock_without_wipe(cockpit_client, org, assigned_device):
    response = cockpit_client.post(move_url(org, assigned_device, "return-to-stock"),
                                   {"version": assigned_device.version})
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_stock", "to_assign", None)
    assert device.history.get(action="returned_to_stock").wipe_requested is False


def test_post_archive_then_restore(cockpit_client, org, assigned_device):
    response = cockpit_client.post(
        move_url(org, assigned_device, "archive"),
        {"wipe": "on", "reason": "Broken screen", "version": assigned_device.version},
    )
    assert response.status_code == 302
    device = reload(assigned_device)
    assert (device.availability_status, device.assignment_status, device.assignee) == ("archived", None, None)
    assert device.archived_at is not None

    response = cockpit_client.post(move_url(org, device, "restore"), {"version": device.version})
    assert response.status_code == 302
    device = reload(device)
    assert (device.availability_status, device.assignment_status) == ("in_stock", "to_assign")
    assert device.archived_at is None
    assert list(device.history.values_list("action", flat=True)[:3]) == ["restored", "archived", "assigned"]
    page = cockpit_client.get(url("device_detail", org, device.pk)).content.decode()
    assert "“Broken screen”" in page


def test_post_a_stale_version_is_a_conflict_and_changes_nothing(cockpit_client, org, device, employee, actor):
    stale_version = device.version
    # Someone else assigns the device after our form was opened…
    device_services.device_assign(device=device, employee=employee, actor=actor)
    before = reload(device)
    history_before = before.history.count()
    audit_before = AuditEvent.objects.filter(organization=org).count()

    response = cockpit_client.post(
        move_url(org, device, "archive"), {"wipe": "on", "version": stale_version}
    )
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    after = reload(device)
    assert (after.availability_status, after.assignment_status, after.assignee_id, after.version) == (
        before.availability_status, before.assignment_status, before.assignee_id, before.version
    )
    assert after.history.count() == history_before
    assert AuditEvent.objects.filter(organization=org).count() == audit_before


@pytest.mark.parametrize("move", ["unassign", "return-to-stock", "restore"])
def test_post_a_stale_version_is_409_for_every_move(cockpit_client, org, assigned_device, move, actor):
    device = assigned_device
    if move == "restore":
        device = device_services.device_archive(device=device, actor=actor)
    response = cockpit_client.post(move_url(org, device, move), {"version": device.version - 1})
    assert response.status_code == 409
    assert reload(device).version == device.version


def test_post_an_illegal_move_is_refused(cockpit_client, org, device, employee, actor):
    archived = device_services.device_archive(device=device, actor=actor)
    response = cockpit_client.post(
        move_url(org, archived, "assign"), {"employee": employee.email, "version": archived.version}
    )
    assert response.status_code == 409
    assert "restore it before you assign it" in response.content.decode()
    assert reload(archived).availability_status == "archived"

    response = cockpit_client.post(move_url(org, archived, "archive"), {"version": archived.version})
    assert response.status_code == 409
    assert "already archived" in response.content.decode()


def test_post_without_a_version_is_a_form_error(cockpit_client, org, assigned_device):
    response = cockpit_client.post(move_url(org, assigned_device, "unassign"), {"wipe": "on"})
    assert response.status_code == 400
    assert reload(assigned_device).assignee_id is not None
