"""Layout of the enrollment / assignment / offboarding pages in a real browser (found in a QA pass):
settings checkboxes sit beside their label, URL boxes are as wide as the others, the auto-mode preview
stays inside its card, and the employee's enrollment page fits a phone."""

import pytest

from core.models import Membership
from devices.models import EnrollmentStatus
from enrollment import services
from tests.factories import DeviceFactory, EmployeeFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(db):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.OWNER)
    return org


def sign_in(page, base):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_remote_management_form_layout(live_server, acme, page):
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/settings/remote-management/")
    box = page.locator("#id_auto_unenroll_enabled").bounding_box()
    label = page.locator("label[for=id_auto_unenroll_enabled]").bounding_box()
    assert box["x"] < label["x"] and abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 8
    url_box = page.locator("#id_fleet_url").bounding_box()
    number_box = page.locator("#id_auto_unenroll_after_days").bounding_box()
    assert abs(url_box["width"] - number_box["width"]) < 2
    help_color = page.locator("#id_fleet_url_helptext").evaluate("e => getComputedStyle(e).color")
    label_color = page.locator("label[for=id_fleet_url]").evaluate("e => getComputedStyle(e).color")
    assert help_color != label_color  # help reads as a hint, not as a second label
    assert no_sideways_scroll(page)


def test_auto_mode_preview_stays_inside_the_page(live_server, acme, page):
    for n in range(12):
        person = EmployeeFactory(organization=acme, full_name=f"Person Withaverylongname{n}",
                                 email=f"person.withaverylongname{n}@acme.test")
        DeviceFactory(organization=acme, name=f"C02SSO{n}", fleet_emails=[
            {"email": person.email, "source": "mdm_idp_accounts"}, {"email": person.email, "source": "custom"}])
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/settings/suggestions/?threshold=0.5")
    assert page.locator("#preview-table tbody tr").count() == 12
    assert no_sideways_scroll(page)
    card = page.locator("#auto-preview").bounding_box()
    table = page.locator("#preview-table").bounding_box()
    assert table["x"] + table["width"] <= card["x"] + card["width"] + 1


def test_a_rows_fix_button_sends_that_device_only(live_server, acme, page, monkeypatch):
    """Ticking boxes then pressing one row's button used to send the ticked devices too."""
    sent = []
    monkeypatch.setattr(services, "fix_instructions_send_bulk",
                        lambda *, organization, device_ids, actor: sent.append(sorted(device_ids)) or {
                            "sent": len(device_ids), "skipped": 0})
    common = {"availability_status": "in_use", "assignment_status": "assigned",
              "enrollment_status": EnrollmentStatus.PARTIALLY_ENROLLED, "enrollment_issues": ["agent_missing"]}
    ada = EmployeeFactory(organization=acme, email="ada@acme.test", full_name="Ada")
    bob = EmployeeFactory(organization=acme, email="bob@acme.test", full_name="Bob")
    first = DeviceFactory(organization=acme, name="ada-agent", assignee=ada, **common)
    second = DeviceFactory(organization=acme, name="bob-agent", assignee=bob, **common)
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/enrollment/troubleshooting/")
    page.check(f"#issue-agent_missing input[type=checkbox][value='{first.pk}']")
    page.click(f"#issue-agent_missing button[value='{second.pk}']")
    page.wait_for_url("**/enrollment/troubleshooting/")
    assert sent == [[second.pk]]
    page.check(f"#issue-agent_missing input[type=checkbox][value='{first.pk}']")
    page.check(f"#issue-agent_missing input[type=checkbox][value='{second.pk}']")
    page.click("#issue-agent_missing button.primary")
    page.wait_for_url("**/enrollment/troubleshooting/")
    assert sent[-1] == sorted([first.pk, second.pk])


def test_offboarding_wizard_apply_to_all_row(live_server, acme, page):
    from core.actors import Actor
    from devices import services as device_services

    leaver = EmployeeFactory(organization=acme, email="leaver@acme.test", full_name="Lea Ver")
    for n in range(2):
        device_services.device_assign(device=DeviceFactory(organization=acme, name=f"lea-{n}"), employee=leaver,
                                      actor=Actor.system("tests"))
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/acme/employees/{leaver.pk}/offboard/")
    assert page.title().startswith("Offboard Lea Ver") and "<" not in page.title()
    box = page.locator("#apply-all input[name=all_wipe]").bounding_box()
    label = page.locator("#apply-all label.check").bounding_box()
    assert box["width"] < 30 and abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 8
    assert no_sideways_scroll(page)
