"""Bulk assignment by CSV in a real browser: upload a file with one bad row, read the preview, skip it, commit."""

import pytest

from assignment.models import CsvImport, PreAssignment
from core.models import Membership
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

CSV = (
    "Serial Number,User Name,Domain Name,Email Address,Group Name,Owned By,Asset Tag\r\n"
    "C02SPARE01,ada,CORP,ada@acme.test,Engineering,Corporate,T-1\r\n"
    "C02SPARE02,grace,,grace@acme.test,Engineering/Sales,,T-2\r\n"
    "C02SPARE03,bob,,bob@acme.test,Marketing,,T-3\r\n"  # no such group: the bad row
    "C02NOTYET1,newbie,,newbie@acme.test,Sales,Personal,T-4\r\n"
    "\r\n"
)


@pytest.fixture
def fleet(db):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test", first_name="Alice", last_name="Admin")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    for name in ("Engineering", "Sales"):
        GroupFactory(organization=org, name=name)
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    for n in (1, 2, 3):
        DeviceFactory(organization=org, serial_number=f"C02SPARE0{n}", name=f"spare-{n}", platform="macos")
    return {"org": org, "ada": ada, "grace": grace}


def test_upload_preview_skip_the_bad_row_and_commit(live_server, fleet, page, tmp_path):
    org, base = fleet["org"], live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/")

    page.goto(f"{base}/o/{org.slug}/pre-assignments/import/")
    path = tmp_path / "assignments.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.encode())  # as Excel saves "CSV UTF-8"
    page.select_option("#id_kind", "assign")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/pre-assignments/import/*/")

    # The preview: each row's action, the bad row's line-numbered message, the new employee, the ignored column.
    rows = page.locator("#import-rows tbody tr")
    assert rows.count() == 4
    assert "Assign now" in rows.nth(0).inner_text() and "Assign now" in rows.nth(1).inner_text()
    assert "Line 4: Unknown group: Marketing (create it first)." in rows.nth(2).inner_text()
    assert "new employee" in rows.nth(3).inner_text() and "Pre-assign (device not seen yet)" in rows.nth(3).inner_text()
    assert "Asset Tag" in page.locator("#ignored-columns").inner_text()
    assert page.locator("#rejected-link").count() == 1
    screenshot = tmp_path / "csv-preview.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0

    # Committing without skipping is refused and changes nothing.
    page.click("#commit-form button[type=submit]")
    assert "1 row(s) are in error" in page.locator("#commit-error").inner_text()
    assert not PreAssignment.objects.exists()

    page.check("#commit-form input[name=skip_errors]")
    page.click("#commit-form button[type=submit]")
    page.wait_for_selector("#import-result")
    assert "Import committed: 1 created, 2 assigned, 1 new employees, 1 row(s) in error skipped." in (
        page.locator(".messages").inner_text())
    assert CsvImport.objects.get().status == "committed"

    # The devices are assigned, as the inventory shows.
    page.goto(f"{base}/o/{org.slug}/devices/?assignee_email=ada@acme.test")
    table = page.locator("#device-table tbody tr")
    assert table.count() == 1 and "spare-1" in table.first.inner_text()
    page.goto(f"{base}/o/{org.slug}/devices/?assignee_email=grace@acme.test")
    assert table.count() == 1 and "spare-2" in table.first.inner_text()
    assert Device.objects.get(serial_number="C02SPARE03").assignee is None  # the skipped row

    # The serial not seen yet waits, shown on the pre-assignment list.
    page.goto(f"{base}/o/{org.slug}/pre-assignments/?status=waiting")
    listed = page.locator("#pre-assignment-table tbody tr")
    assert listed.count() == 1 and "C02NOTYET1" in listed.first.inner_text()
    assert "newbie@acme.test" in listed.first.inner_text()
