"""The employee's enrollment page in a real browser: sign in with the e-mailed code, download the personal
installer, see a device with an issue and the step that fixes it. No JavaScript is needed on the page."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from core.actors import Actor
from devices.models import EnrollmentStatus
from enrollment.installers import verify_script
from enrollment.models import InstallerDownload
from enrollment.services import enrollment_settings_save
from tests.factories import DeviceFactory, EmployeeFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "browser-enroll-secret"


@pytest.fixture
def enrollment(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the sign-in e-mail leaves from a task queued on commit
    org = OrganizationFactory(slug="acme", name="Acme Corp")
    enrollment_settings_save(organization=org, actor=Actor.system("tests"), enroll_secret=SECRET,
                             fleet_url="https://fleet.acme.test")
    ada = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace")
    DeviceFactory(organization=org, name="ada-mbp", platform="macos", assignee=ada, availability_status="in_use",
                  assignment_status="assigned", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                  enrollment_issues=["agent_missing"], mdm_enrolled_at=timezone.now())
    return {"org": org, "ada": ada}


def test_employee_signs_in_downloads_and_sees_the_fix(live_server, enrollment, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False,
                                  accept_downloads=True)  # a phone, without JavaScript
    context.set_default_timeout(15_000)
    page = context.new_page()
    base = f"{live_server.url}/enroll/acme/"
    try:
        page.goto(base)
        assert "Acme Corp" in page.inner_text("header")
        page.fill("input[name=email]", "ada@acme.test")
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("h1 >> text=Check your e-mail")  # the answer is a new page with its own h1
        assert "Check your e-mail" in page.inner_text("h1")

        (message,) = mail.outbox
        code = re.search(r"\b(\d{6})\b", message.subject).group(1)
        page.fill("input[name=code]", code)
        page.click("#code-form button[type=submit]")
        page.wait_for_url(base)
        assert page.inner_text("h1") == "Hello Ada Lovelace"

        device = page.locator("#my-devices article")
        assert device.count() == 1
        text = device.inner_text()
        assert "ada-mbp" in text and "Needs your attention" in text
        assert "Agent missing" in text and "download the agent again" in text

        with page.expect_download() as download_info:
            page.click("#installers a[data-platform=macos][data-format=sh]")
        download = download_info.value
        assert download.suggested_filename == "fleet-install-macos-ada.sh"
        script = Path(download.path()).read_text()
        assert "END_USER_EMAIL=ada@acme.test" in script and f"ENROLL_SECRET={SECRET}" in script
        assert verify_script(script)
        assert InstallerDownload.objects.filter(employee=enrollment["ada"], platform="macos").count() == 1
        assert SECRET not in page.content()

        # The agent_missing fix on the device itself: download the agent again.
        with page.expect_download() as again:
            page.click("#my-devices .agent-download a >> nth=0")
        assert again.value.suggested_filename.startswith("fleet-install-macos-ada")
        assert InstallerDownload.objects.filter(employee=enrollment["ada"]).count() == 2
    finally:
        context.close()
