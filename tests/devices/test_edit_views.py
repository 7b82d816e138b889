
from core.models import AuditEvent, Membership
from devices.models import Device
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory


def device_form(device, **changes):
    data = {"serial_number": device.serial_number, "name": device.name, "platform": device.platform,
            "model": device.model, "os_version": device.os_version, "ownership": device.ownership,
            "usage": device.usage, "notes": device.notes, "version": device.version}
    return data | changes


def test_edit_a_device_from_its_page(cockpit_client, org, device):
    group = GroupFactory(organization=org, name="Design")
    page = cockpit_client.get(f"/o/{org.slug}/devices/{device.pk}/")
    assert f"/o/{org.slug}/devices/{device.pk}/edit/" in page.content.decode()
    form = cockpit_client.get(f"/o/{org.slug}/devices/{device.pk}/edit/")
    assert form.status_code == 200 and f'value="{device.version}"' in form.content.decode()
    response = cockpit_client.post(f"/o/{org.slug}/devices/{device.pk}/edit/",
                                   device_form(device, name="design-mbp", groups=[group.pk]))
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.name == "design-mbp" and list(device.groups.all()) == [group]
    event = AuditEvent.objects.for_org(org).get(event="device.updated")
    assert event.before["name"] == "ada-mbp" and event.after["name"] == "design-mbp"


def test_a_stale_edit_is_a_conflict_and_changes_nothing(cockpit_client, org, device):
    stale = device_form(device, name="mine")
    cockpit_client.post(f"/o/{org.slug}/devices/{device.pk}/edit/", device_form(device, name="theirs"))
    response = cockpit_client.post(f"/o/{org.slug}/devices/{device.pk}/edit/", stale)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert Device.objects.get(pk=device.pk).name == "theirs"


def test_a_duplicate_serial_is_a_form_error(cockpit_client, org, device):
    other = DeviceFactory(organization=org, serial_number="TAKEN1")
    response = cockpit_client.post(f"/o/{org.slug}/devices/{device.pk}/edit/",
                                   device_form(device, serial_number="taken1"))
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Device.objects.get(pk=device.pk).serial_number == "C02ADA001" and other.serial_number == "TAKEN1"


def test_viewer_cannot_edit(client, org, device):
    client.force_login(member(org, Membership.Role.VIEWER))
    assert client.get(f"/o/{org.slug}/devices/{device.pk}/edit/").status_code == 403
    assert client.post(f"/o/{org.slug}/devices/{device.pk}/edit/", device_form(device, name="x")).status_code == 403
    assert "/edit/" not in client.get(f"/o/{org.slug}/devices/{device.pk}/").content.decode()


def test_edit_an_employee(cockpit_client, org, employee):
    url = f"/o/{org.slug}/employees/{employee.pk}/edit/"
    assert 'value="ada@acme.test"' in cockpit_client.get(url).content.decode()
    response = cockpit_client.post(url, {"email": "Ada.Lovelace@Acme.test", "full_name": "Ada King"})
    assert response.status_code == 302
    employee.refresh_from_db()
    assert (employee.email, employee.full_name) == ("ada.lovelace@acme.test", "Ada King")


def test_employee_edit_refuses_an_email_taken_in_the_organization(cockpit_client, org, employee):
    EmployeeFactory(organization=org, email="taken@acme.test")
    response = cockpit_client.post(f"/o/{org.slug}/employees/{employee.pk}/edit/", {"email": "TAKEN@acme.test"})
    assert response.status_code == 400
    employee.refresh_from_db()
    assert employee.email == "ada@acme.test"


def test_technician_cannot_edit_employees(client, org, employee):
    client.force_login(member(org, Membership.Role.TECHNICIAN))
    assert client.get(f"/o/{org.slug}/employees/{employee.pk}/edit/").status_code == 403
