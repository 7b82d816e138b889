"""Layout of the enrollment / assignment / offboarding pages in a real browser (found in a QA pass):
settings checkboxes sit beside their label, URL boxes are as wide as the others, the auto-mode preview
stays inside its card, and the employee's enrollment page fits a phone."""

import pytest

from cockpit.models import Membership
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
