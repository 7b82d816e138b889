"""The filters' pickers and the dashboard's charts in a real browser (issue #14 §4, §5): type part of a name, arrow
down, Enter, submit: the list is filtered by the picked id and the URL carries no empty parameter."""

import os
from datetime import UTC, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.utils import timezone

from core.actors import Actor
from devices import services as device_services
from mdm_sync.models import DailySnapshot
from tests.browser.accounts import cockpit_user, sign_in
from tests.factories import DeviceFactory, EmployeeFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = cockpit_user(org, first_name="Alice", last_name="Admin")
    actor = Actor.for_user(admin)
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    adam = EmployeeFactory(organization=org, full_name="Adam Smith", email="adam@acme.test")
    EmployeeFactory(organization=OrganizationFactory(slug="globex"), full_name="Ada Globex", email="ada@globex.test")
    for name, owner in (("ada-mbp", ada), ("adam-mbp", adam)):
        device_services.device_assign(device=DeviceFactory(organization=org, name=name, platform="macos"),
                                      employee=owner, actor=actor)
    DeviceFactory(organization=org, name="spare-mbp", platform="macos")
    return {"org": org, "ada": ada, "adam": adam}


def test_pick_an_assignee_by_name_with_the_keyboard(live_server, world, page):
    org, adam = world["org"], world["adam"]
    base = live_server.url
    sign_in(page, base, f"/o/{org.slug}/devices/")
    rows = page.locator("#device-table tbody tr")
    assert rows.count() == 3

    box = page.get_by_role("combobox", name="Assignee")
    assert box.get_attribute("aria-expanded") == "false"
    box.click()
    box.press_sequentially("ada", delay=40)
    listbox = page.locator("form.filters").get_by_role("listbox")
    options = listbox.get_by_role("option")
    options.first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    assert [text.split("\n")[0].split(" ada")[0] for text in options.all_inner_texts()] == ["Ada Lovelace",
                                                                                            "Adam Smith"]
    assert "Ada Globex" not in listbox.inner_text()  # another organization's

    box.press("ArrowDown")
    box.press("ArrowDown")
    active = box.get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    assert "Adam Smith" in page.locator(f"#{active}").inner_text()
    box.press("Enter")  # picks, does not submit
    assert box.get_attribute("aria-expanded") == "false" and box.input_value() == "Adam Smith"
    assert page.url == f"{base}/o/{org.slug}/devices/"

    page.click("form.filters button[type=submit]")
    page.wait_for_url("**assignee=**")
    assert dict(parse_qsl(urlsplit(page.url).query, keep_blank_values=True)) == {"assignee": str(adam.pk)}
    assert rows.count() == 1 and "adam-mbp" in rows.first.inner_text()
    # The page shows who was picked, by name; Escape closes a list without picking.
    box = page.get_by_role("combobox", name="Assignee")
    assert box.input_value() == "Adam Smith"
    box.fill("")
    box.press_sequentially("ad", delay=40)
    page.locator("form.filters [role=listbox] [role=option]").first.wait_for()
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("form.filters [role=listbox]").is_hidden()


def test_an_email_typed_without_picking_still_filters(live_server, world, page):
    org = world["org"]
    base = live_server.url
    sign_in(page, base, f"/o/{org.slug}/devices/")
    page.get_by_role("combobox", name="Assignee").fill("ada@acme.test")
    page.select_option("select[name=platform]", "macos")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**platform=macos**")
    query = urlsplit(page.url).query
    assert dict(parse_qsl(query, keep_blank_values=True)) == {"assignee": "ada@acme.test", "platform": "macos"}
    rows = page.locator("#device-table tbody tr")
    assert rows.count() == 1 and "ada-mbp" in rows.first.inner_text()


def test_the_dashboard_draws_its_trend_charts(live_server, world, page):
    org = world["org"]
    today = timezone.now().astimezone(UTC).date()
    DailySnapshot.objects.bulk_create([
        DailySnapshot(organization=org, day=today - timedelta(days=n), taken_at=timezone.now(), devices=40 - n // 3,
                      in_use_assigned=30 - n // 3, in_stock=6 + n % 4, in_use_to_assign=4 - n % 3,
                      enrolled=32 - n // 3, partially_enrolled=2 + n % 5, awaiting_activation=3,
                      sync_runs=48, sync_failures=1 if n % 11 == 5 else 0, sync_seconds=20 + (n * 7) % 13)
        for n in range(1, 60)])
    base = live_server.url
    sign_in(page, base, f"/o/{org.slug}/")
    charts = page.locator("#trends svg.chart-svg")
    assert charts.count() == 3
    assert page.get_by_role("img", name="Devices by status, last 30 days", exact=True).is_visible()
    page.click("#trends a:has-text('90 days')")
    page.wait_for_url("**days=90**")
    assert page.locator("#trends a[aria-current=page]").inner_text() == "90 days"
    assert "Collecting since" in page.locator("#trends").inner_text()  # 59 days of 90
    page.locator("#trends").scroll_into_view_if_needed()
    target = os.environ.get("CHARTS_SCREENSHOT")
    if target:  # e.g. CHARTS_SCREENSHOT=/tmp/charts-dashboard.png to look at it
        page.screenshot(path=target, full_page=True)
