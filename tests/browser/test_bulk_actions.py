"""The inventory's bulk actions in a real browser: check rows, "select all matching", apply an action, confirm, read
the results; a large selection follows its job without a reload; and at 1280 px the table fits without sideways
scrolling (a screenshot is kept in /tmp/bulk-inventory.png to look at)."""

import pytest
from django.utils import timezone

from core import jobs
from core.actors import Actor
from core.jobs import Job, job_execute
from devices import services as device_services
from devices.models import Device
from tests.browser.accounts import cockpit_user, sign_in
from tests.factories import (
    DeviceFactory,
    EmployeeFactory,
    GroupFactory,
    OrganizationFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fleet(db):
    """An admin, people in groups, and 60 devices (more than a page): 6 assigned, the rest in stock."""
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = cockpit_user(org)
    actor = Actor.for_user(admin)
    engineering = GroupFactory(organization=org, name="Engineering")
    sales = GroupFactory(organization=org, name="Sales")
    people = []
    for n in range(6):
        person = EmployeeFactory(organization=org, full_name=f"Person Number{n} With-A-Long-Name",
                                 email=f"person.number{n}@acme.test")
        person.groups.set([engineering, sales] if n % 2 else [engineering])
        people.append(person)
    devices = []
    for n in range(60):
        device = DeviceFactory(organization=org, name=f"device-{n:02d}", serial_number=f"C02BULK{n:05d}",
                               platform="windows" if n % 3 else "macos", last_seen_at=timezone.now())
        if n < 6:
            device = device_services.device_assign(device=device, employee=people[n], actor=actor)
        devices.append(device)
    return {"org": org, "devices": devices, "sales": sales}


def test_select_rows_and_return_them_to_stock(live_server, page, fleet):
    org, base = fleet["org"], live_server.url
    sign_in(page, base, f"/o/{org.slug}/devices/")
    assert page.locator("#bulk-bar").is_hidden()  # nothing selected yet
    page.goto(f"{base}/o/{org.slug}/devices/?ordering=name")
    for n in (0, 1, 2, 3, 40):  # device-00 … device-03 are assigned, device-40 is in stock
        page.check(f"#device-table tbody input[name=ids][value='{fleet['devices'][n].pk}']")
    assert page.locator("#bulk-bar").is_visible()
    assert page.inner_text("#bulk-selected") == "5 devices selected"
    page.select_option("#bulk-action", "return_to_stock")
    assert page.locator("#bulk-bar [data-for=group]").is_hidden()
    page.click("#bulk-apply")
    page.wait_for_selector("#bulk-confirm")
    assert "5 devices selected" in page.inner_text("#bulk-confirm")
    assert page.is_checked("#id_wipe")  # owners change: the wipe is recommended
    page.uncheck("#id_wipe")
    page.screenshot(path="/tmp/bulk-confirm.png", full_page=True)
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector("#bulk-result")
    page.screenshot(path="/tmp/bulk-result.png", full_page=True)
    summary = page.inner_text(".bulk-summary")
    assert "4 succeeded" in summary and "1 failed" in summary
    assert "device-40 is already in stock." in page.inner_text("#bulk-failed")
    assert Device.objects.filter(pk__in=[d.pk for d in fleet["devices"][:4]], availability_status="in_stock",
                                 assignee=None).count() == 4


def test_select_all_matching_and_add_to_a_group(live_server, page, fleet):
    org, base, sales = fleet["org"], live_server.url, fleet["sales"]
    sign_in(page, base, f"/o/{org.slug}/devices/")
    page.goto(f"{base}/o/{org.slug}/devices/?platform=windows")
    windows = Device.objects.filter(organization=org, platform="windows").count()
    assert windows == 40 and page.locator("#device-table tbody tr").count() == 40
    page.goto(f"{base}/o/{org.slug}/devices/")
    assert page.locator("#select-all-matching").is_hidden()
    page.check("#select-page")
    assert page.inner_text("#bulk-selected") == "50 devices selected"
    page.check("#select-all-matching input")
    assert page.inner_text("#bulk-selected") == "All 60 devices matching this filter selected"
    page.select_option("#bulk-action", "add_to_group")
    page.select_option("#bulk-bar select[name=group]", str(sales.pk))
    page.click("#bulk-apply")
    page.wait_for_selector("#bulk-confirm")
    assert "60 devices selected" in page.inner_text("#bulk-confirm")
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector("#bulk-result")
    assert "60 succeeded" in page.inner_text(".bulk-summary")
    assert sales.devices.count() == 60


def test_a_large_selection_follows_its_job_without_a_reload(live_server, page, fleet, settings, monkeypatch):
    settings.DEVICES_BULK_SYNC_MAX_DEVICES = 5
    queued = []
    monkeypatch.setattr(jobs, "queue_job", queued.append)  # no worker yet: the test plays it below
    org, base = fleet["org"], live_server.url
    sign_in(page, base, f"/o/{org.slug}/devices/")
    page.check("#select-page")
    page.select_option("#bulk-action", "archive")
    page.click("#bulk-apply")
    page.click("#bulk-confirm button[type=submit]")
    page.wait_for_selector(".job-progress")
    page.evaluate("window.notReloaded = true")
    job = Job.objects.get(pk=queued[0])
    Job.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now(), progress_done=25)
    page.wait_for_function("document.querySelector('.job-progress').innerText.includes('25 of 50 (50 %)')")
    assert page.evaluate("window.notReloaded") is True
    Job.objects.filter(pk=job.pk).update(status="queued", attempts=0)
    job_execute(job_id=job.pk)
    page.wait_for_selector("#bulk-result", timeout=10_000)
    assert "50 succeeded" in page.inner_text(".bulk-summary")
    assert Device.objects.filter(availability_status="archived").count() == 50


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_inventory_fits_the_screen(live_server, browser, fleet, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        org, base = fleet["org"], live_server.url
        sign_in(page, base, f"/o/{org.slug}/devices/")
        page.goto(f"{base}/o/{org.slug}/devices/?ordering=name")  # the assigned devices first
        wrap = page.locator("#device-table-wrap")
        overflow = page.evaluate("""() => {
            const wrap = document.getElementById('device-table-wrap');
            return {wrap: wrap.scrollWidth - wrap.clientWidth, page: document.documentElement.scrollWidth - innerWidth};
        }""")
        assert overflow == {"wrap": 0, "page": 0}, overflow
        # "Last seen" is whole: its header and cells end inside the table's frame, on one line.
        frame = wrap.bounding_box()
        for cell in (page.locator("#device-table th.c-last_seen"), page.locator("#device-table td.c-last_seen").first):
            box = cell.bounding_box()
            assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
            assert cell.evaluate("c => getComputedStyle(c).whiteSpace === 'nowrap' && c.scrollWidth <= c.clientWidth")
        assert page.locator("#device-table td.c-groups .via-owner").count() > 0  # the owners' groups show
        # The header stays in view when the list scrolls.
        page.mouse.wheel(0, 1200)
        page.wait_for_function("window.scrollY > 600")
        header = page.locator("#device-table thead th.c-name").bounding_box()
        assert -1 <= header["y"] <= 1
        page.mouse.wheel(0, -5000)
        page.wait_for_function("window.scrollY === 0")
        if width == 1280:
            page.check("#device-table tbody tr:nth-child(2) input[name=ids]")
            page.check("#device-table tbody tr:nth-child(3) input[name=ids]")
            page.select_option("#bulk-action", "assign")
            page.screenshot(path="/tmp/bulk-inventory.png", full_page=False)
        # The column chooser: a column hidden stays hidden on the next visit (this browser remembers).
        page.click("#column-chooser summary")
        page.uncheck("#column-chooser input[value=platform]")
        assert page.locator("#device-table th.c-platform").is_hidden()
        page.reload()
        assert page.locator("#device-table th.c-platform").is_hidden()
        assert page.locator("#device-table th.c-serial").is_visible()
    finally:
        context.close()
