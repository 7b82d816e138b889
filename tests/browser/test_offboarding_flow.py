"""Offboarding in a real browser: an employee with three devices, one of each decision, and the inventory after."""

import pytest

from core.actors import Actor
from core.models import Employee, Membership
from devices import services as device_services
from devices.models import DeviceCommand
from offboarding.models import Offboarding
from tests.factories import DeviceFactory, EmployeeFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def leaver_world(db, monkeypatch):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test", first_name="Alice", last_name="Admin")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    actor = Actor.for_user(admin)
    lea = EmployeeFactory(organization=org, full_name="Lea Leaver", email="lea@acme.test")
    bob = EmployeeFactory(organization=org, full_name="Bob Builder", email="bob@acme.test")
    devices = {}
    for name, serial in (("lea-stock", "C02LEA0001"), ("lea-retire", "C02LEA0002"), ("lea-handover", "C02LEA0003")):
        device = DeviceFactory(organization=org, name=name, serial_number=serial, platform="macos")
        devices[name] = device_services.device_assign(device=device, employee=lea, actor=actor)
    return {"org": org, "lea": lea, "bob": bob, "devices": devices}


def test_offboard_an_employee_with_one_device_of_each_decision(live_server, leaver_world, page, tmp_path):
    org, lea, devices = leaver_world["org"], leaver_world["lea"], leaver_world["devices"]
    base = live_server.url

    page.goto(f"{base}/o/{org.slug}/employees/{lea.pk}/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/employees/{lea.pk}/")

    # The employee page offers "Offboard"; the wizard lists her three devices.
    page.click("#offboard-button")
    page.wait_for_url(f"{base}/o/{org.slug}/employees/{lea.pk}/offboard/")
    assert page.locator("#decision-table tbody tr").count() == 3

    stock, retire, handover = devices["lea-stock"], devices["lea-retire"], devices["lea-handover"]
    page.select_option(f"select[name=action_{stock.pk}]", "return_to_stock")
    page.select_option(f"select[name=action_{retire.pk}]", "remove_from_fleet")
    assert not page.is_checked(f"input[name=wipe_{retire.pk}]")  # the decision's own wipe default (off)
    page.select_option(f"select[name=action_{handover.pk}]", "reassign")
    assert page.is_checked(f"input[name=wipe_{handover.pk}]")
    page.fill(f"input[name=reassign_to_{handover.pk}]", "bob@acme.test")
    page.uncheck(f"input[name=wipe_{handover.pk}]")  # handed over as is
    page.click("#decisions-form button[name=save]")

    # The summary shows each decision before anything changes.
    case = Offboarding.objects.get()
    page.wait_for_url(f"{base}/o/{org.slug}/offboardings/{case.pk}/")
    summary = page.locator("#summary-table").inner_text()
    assert "Return to stock" in summary and "Remove from the fleet" in summary and "Reassign → Bob Builder" in summary
    assert Employee.objects.get(pk=lea.pk).status == "active"

    page.click("#complete-now")
    page.wait_for_url(f"{base}/o/{org.slug}/offboardings/{case.pk}/")
    assert "was offboarded" in page.locator(".messages").inner_text()
    assert "Completed" in page.locator("h1").inner_text()
    page.screenshot(path=str(tmp_path / "offboarding-completed.png"), full_page=True)

    # The inventory shows the result of each decision.
    rows = page.locator("#device-table tbody tr")
    page.goto(f"{base}/o/{org.slug}/devices/?search=C02LEA0001")
    assert rows.count() == 1 and "In stock" in rows.first.inner_text()
    page.goto(f"{base}/o/{org.slug}/devices/?search=C02LEA0002")
    assert rows.count() == 1 and "Archived" in rows.first.inner_text()
    page.goto(f"{base}/o/{org.slug}/devices/?search=C02LEA0003")
    assert rows.count() == 1 and "Bob Builder" in rows.first.inner_text()
    page.goto(f"{base}/o/{org.slug}/devices/?assignee_email=lea@acme.test")
    assert "No device matches" in page.locator("#device-table").inner_text()

    # The returned device's page shows its wipe; the employee is offboarded.
    page.goto(f"{base}/o/{org.slug}/devices/{stock.pk}/")
    assert "Requested" in page.locator("#wipe-panel").inner_text()
    assert Employee.objects.get(pk=lea.pk).status == "offboarded"
    assert set(DeviceCommand.objects.values_list("device__name", flat=True)) == {"lea-stock"}
