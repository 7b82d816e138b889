"""A wipe asked in the cockpit, in a real browser: the wipe is pre-ticked when the owner changes, the move is
confirmed, and the device page shows the wipe as it goes (requested, then failed with Fleet's message, retry)."""

import os

import pytest

from core.actors import Actor
from core.models import Membership
from devices import commands
from devices import services as device_services
from devices.models import DeviceCommand
from tests.factories import DeviceFactory, EmployeeFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test", first_name="Alice", last_name="Admin")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    device = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA0001", platform="macos",
                           fleet_host_id=4101)
    device = device_services.device_assign(device=device, employee=ada, actor=Actor.for_user(admin))
    return {"org": org, "device": device, "grace": grace}


def test_reassign_with_wipe_and_follow_it_on_the_device_page(live_server, world, page):
    org, device = world["org"], world["device"]
    base = live_server.url
    page.goto(f"{base}/o/{org.slug}/devices/{device.pk}/reassign/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{device.pk}/reassign/")

    assert page.is_checked("input[name=wipe]"), "the owner changes: the wipe is recommended"
    page.fill("#id_employee", "grace@acme.test")
    page.click("#move-form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{device.pk}/")

    panel = page.locator("#wipe-panel")
    assert "Wipe" in panel.inner_text() and "Requested" in panel.inner_text()
    wipe = DeviceCommand.objects.get(device=device)
    commands.command_failed(wipe, actor=Actor.system("tests"), error="Fleet: the host is offline for good.")
    page.reload()
    assert "the host is offline for good" in panel.inner_text()
    if os.environ.get("COCKPIT_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["COCKPIT_SCREENSHOTS"], "device-wipe-panel.png"), full_page=True)
    panel.get_by_role("button", name="Retry").click()
    page.wait_for_url(f"{base}/o/{org.slug}/devices/{device.pk}/")
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.REQUESTED
    assert "(wipe requested)" in page.locator("#device-history").inner_text()
