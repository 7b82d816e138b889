"""The inventory flow in a real browser: sign in, filter, open a device, assign it, read its history."""

import pytest

from core.actors import Actor
from core.models import Membership
from devices import services as device_services
from devices.models import Device
from tests.factories import (
    DeviceFactory,
    EmployeeFactory,
    GroupFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

PASSWORD = "browser-test-passphrase-7"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inventory(db):
    """An organization with an admin, two employees and a mixed fleet."""
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test", first_name="Alice", last_name="Admin")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    actor = Actor.for_user(admin)
    engineering = GroupFactory(organization=org, name="Engineering")
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")

    target = device_services.device_create(
        organization=org, actor=actor, serial_number="C02TARGET1", name="spare-mbp", platform="macos",
        model="MacBook Pro", groups=[engineering.name],
    )
    busy = DeviceFactory(organization=org, name="grace-mbp", serial_number="C02GRACE01", platform="macos")
    device_services.device_assign(device=busy, employee=grace, actor=actor)
    for n in range(4):
        DeviceFactory(organization=org, name=f"win-{n}", serial_number=f"WIN0000{n}", platform="windows")
    DeviceFactory(organization=org, name="lab-linux", serial_number="LNX00001", platform="linux")
    return {"org": org, "admin": admin, "ada": ada, "target": target}


def test_assign_a_device_from_the_inventory(live_server, inventory, page, tmp_path):
    org, target, ada = inventory["org"], inventory["target"], inventory["ada"]
    base = live_server.url

    # Sign in: the dashboard of the only organization opens.
    page.goto(f"{base}/o/{org.slug}/devices/")
    assert page.url.startswith(f"{base}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/")  # back where the sign-in started

    table = page.locator("#device-table tbody tr")
    assert table.count() == 7

    # Filter the inventory by platform, then narrow it with a search.
    page.select_option("select[name=platform]", "macos")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**platform=macos**")
    assert table.count() == 2
    page.fill("input[name=search]", "spare")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**search=spare**")
    assert table.count() == 1
    assert "C02TARGET1" in table.first.inner_text()
    assert "In stock" in table.first.inner_text()

    # Open the device and start the assignment.
    page.click("#device-table tbody a:has-text('spare-mbp')")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{target.pk}/")
    assert page.locator("h1").inner_text() == "spare-mbp"
    page.click("#device-actions a:has-text('Assign')")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{target.pk}/assign/")
    assert page.locator("#move-form input[name=wipe]").count() == 0  # nobody had it: nothing to wipe

    page.fill("#id_employee", "ada@acme.test")
    page.fill("#id_reason", "New starter kit")
    page.click("#move-form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{target.pk}/")

    # The device page confirms, shows the new owner and the history entry.
    assert "Assign: done for spare-mbp." in page.locator(".messages").inner_text()
    assert "Ada Lovelace" in page.locator("main").inner_text()
    history = page.locator("#device-history").inner_text()
    assert "Alice Admin assigned spare-mbp to ada@acme.test" in history
    assert "New starter kit" in history
    badges = page.locator(".badges").inner_text()
    assert "In use" in badges and "Assigned" in badges

    screenshot = tmp_path / "device-assigned.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.exists() and screenshot.stat().st_size > 0

    device = Device.objects.get(pk=target.pk)
    assert (device.availability_status, device.assignment_status, device.assignee_id) == ("in_use", "assigned", ada.pk)

    # The inventory now lists it as assigned to Ada.
    page.goto(f"{base}/o/{org.slug}/devices/?assignee_email=ada@acme.test")
    assert table.count() == 1
    assert "Ada Lovelace" in table.first.inner_text()


def test_a_wrong_email_keeps_the_device_unassigned(live_server, inventory, page):
    org, target = inventory["org"], inventory["target"]
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", "alice@acme.test")  # the e-mail works as well as the user name
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/")

    page.goto(f"{base}/o/{org.slug}/devices/{target.pk}/assign/")
    page.fill("#id_employee", "nobody@acme.test")
    page.click("#move-form button[type=submit]")
    page.wait_for_selector("#move-form >> text=No employee with the e-mail")  # the form comes back with its error
    assert "No employee with the e-mail nobody@acme.test." in page.locator("#move-form").inner_text()
    assert Device.objects.get(pk=target.pk).assignee_id is None
