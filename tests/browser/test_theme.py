"""The shell in a real browser (issue #14 §5): dark mode by the system's preference and by the top bar's switch (kept
across reloads), the narrow screens' menu at 390 px, and the global search."""

import pytest

from core.actors import Actor
from core.models import Membership
from devices import services as device_services
from tests.factories import DeviceFactory, EmployeeFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"
LIGHT_BG = "rgb(246, 247, 250)"  # --bg of each palette (cockpit.css)
DARK_BG = "rgb(16, 20, 29)"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org():
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    laptop = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001")
    device_services.device_assign(device=laptop, employee=ada, actor=Actor.system("tests"))
    DeviceFactory(organization=org, name="lab-ipad", serial_number="DMPLAB0001")
    return org


def open_context(browser, live_server, **options):
    context = browser.new_context(**{"viewport": {"width": 1366, "height": 900}, **options})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/o/acme/")
    return context, page


def body_background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_dark_mode_follows_the_system_preference(browser, live_server, org):
    for scheme, expected in (("dark", DARK_BG), ("light", LIGHT_BG)):
        context, page = open_context(browser, live_server, color_scheme=scheme)
        assert body_background(page) == expected, scheme
        assert page.get_attribute("html", "data-theme") is None  # nobody chose: the system decides
        assert page.get_attribute('[data-theme-choice="system"]', "aria-pressed") == "true"
        page.goto(f"{live_server.url}/o/acme/devices/")
        assert page.evaluate("getComputedStyle(document.querySelector('.table-wrap')).backgroundColor") != (
            "rgb(255, 255, 255)" if scheme == "dark" else DARK_BG)
        context.close()


def test_the_toggle_sets_the_theme_and_a_reload_keeps_it(browser, live_server, org):
    context, page = open_context(browser, live_server, color_scheme="light")
    assert body_background(page) == LIGHT_BG
    page.click('[data-theme-choice="dark"]')
    assert body_background(page) == DARK_BG
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.get_attribute('[data-theme-choice="dark"]', "aria-pressed") == "true"
    assert page.get_attribute('[data-theme-choice="system"]', "aria-pressed") == "false"

    page.reload()
    # Applied by the <head> script, before the stylesheet and the first paint.
    assert page.get_attribute("html", "data-theme") == "dark" and body_background(page) == DARK_BG
    page.goto(f"{live_server.url}/o/acme/devices/")  # every page, not only the one where it was chosen
    assert body_background(page) == DARK_BG

    page.click('[data-theme-choice="light"]')
    page.reload()
    assert body_background(page) == LIGHT_BG and page.get_attribute("html", "data-theme") == "light"

    page.click('[data-theme-choice="system"]')
    assert page.evaluate("localStorage.getItem('cockpit-theme')") is None
    page.reload()
    assert page.get_attribute("html", "data-theme") is None and body_background(page) == LIGHT_BG
    context.close()

    # An explicit light choice wins over a dark system.
    context, page = open_context(browser, live_server, color_scheme="dark")
    page.click('[data-theme-choice="light"]')
    page.reload()
    assert body_background(page) == LIGHT_BG
    context.close()


def test_the_top_bar_collapses_into_a_menu_at_390_px(browser, live_server, org):
    context, page = open_context(browser, live_server, viewport={"width": 390, "height": 844})
    toggle = page.locator("#menu-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("nav.mainnav").is_visible() and not page.locator("#global-search").is_visible()
    assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") < 60  # one line
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushes the page sideways

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("nav.mainnav").is_visible() and page.locator("#global-search").is_visible()
    assert page.locator("#theme-switch").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("nav.mainnav >> text=Devices")
    page.wait_for_url(f"{live_server.url}/o/acme/devices/")
    assert not page.locator("nav.mainnav").is_visible()  # a new page starts closed

    toggle.click()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false" and not page.locator("nav.mainnav").is_visible()

    # From 800 px the menu is always there and the button is not.
    page.set_viewport_size({"width": 1024, "height": 800})
    assert page.locator("nav.mainnav").is_visible() and not toggle.is_visible()
    context.close()


def test_without_javascript_the_narrow_top_bar_shows_everything(browser, live_server, org):
    context, page = open_context(browser, live_server, viewport={"width": 390, "height": 844},
                                 java_script_enabled=False)
    assert page.locator("nav.mainnav").is_visible() and page.locator("#global-search").is_visible()
    assert not page.locator("#menu-toggle").is_visible()  # it could not open anything
    assert not page.locator("#theme-switch").is_visible()  # nor switch the theme; the system's applies
    context.close()


def test_the_global_search_finds_people_and_jumps_to_a_serial_number(browser, live_server, org):
    context, page = open_context(browser, live_server)
    page.fill("#global-search input[name=q]", "ada")
    page.press("#global-search input[name=q]", "Enter")
    page.wait_for_url(f"{live_server.url}/o/acme/search/?q=ada")
    assert "ada-mbp" in page.inner_text("#search-devices")
    assert "Ada Lovelace" in page.inner_text("#search-employees")
    assert page.input_value("#global-search input[name=q]") == "ada"
    page.click("#search-employees >> text=Ada Lovelace")
    page.wait_for_url(f"{live_server.url}/o/acme/employees/*/")

    page.fill("#global-search input[name=q]", "dmplab0001")
    page.press("#global-search input[name=q]", "Enter")
    page.wait_for_url(f"{live_server.url}/o/acme/devices/*/")
    assert "lab-ipad" in page.inner_text("main")
    context.close()
