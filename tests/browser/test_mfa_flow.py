"""Two-factor authentication in a real browser: set up an authenticator app from the QR page's key, sign out, sign
in with the password and a code the app would show (computed from the key the page displayed)."""

import time
from base64 import b32decode

import pytest
from django_otp.oath import hotp, totp

from core.models import Membership
from mfa.selectors import has_mfa, totp_device_of
from tests.browser.accounts import PASSWORD, cockpit_user, sign_in
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def app_code(key: bytes) -> str:
    """What an authenticator app holding ``key`` shows now."""
    return f"{totp(key):06d}"


def code_after_enrolment(user, key: bytes) -> str:
    """A code the server takes now: past the step of the last code it took (a code is taken once), inside the
    device's window, which django-otp moves when a code is taken one step off (an enrolment code typed just before
    a step's end and checked just after it: the device then expects codes a step behind, and "the next code" would
    be refused). The top of the window, so that a step ending before the server checks leaves it inside."""
    device = totp_device_of(user=user)
    while True:
        now = int(time.time() - device.t0) // device.step + device.drift
        step = max(device.last_t + 1, now + device.tolerance)
        if step <= now + device.tolerance:
            return f"{hotp(key, step):06d}"
        time.sleep(0.5)  # the last code taken was the window's top: wait for the next step


def test_enrol_then_sign_in_with_password_and_code(live_server, page, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    org = OrganizationFactory(slug="acme", name="Acme")
    alice = cockpit_user(org, role=Membership.Role.OWNER, first_name="Alice", last_name="Admin")
    base = live_server.url

    sign_in(page, base, lands_on="/o/acme/")

    # The user menu leads to the security page; setting up shows a QR code and the key in text.
    page.click("#org-switcher summary")
    page.click("#org-switcher a[href='/account/security/']")
    page.wait_for_url(f"{base}/account/security/")
    page.click("#mfa-start-form button")
    page.wait_for_selector("#mfa-qr svg")  # the click posts; the answer is a new page
    assert page.locator("#mfa-qr svg").count() == 1
    key = b32decode(page.inner_text("#mfa-secret").replace(" ", ""))
    page.fill("#mfa-confirm-form input[name=code]", app_code(key))
    page.click("#mfa-confirm-form button")
    page.wait_for_selector("#recovery-code-list li")
    assert page.locator("#recovery-code-list li").count() == 10
    with page.expect_download() as download:
        page.click("#recovery-codes-download")
    saved = download.value.path().read_text()
    assert page.inner_text("#recovery-code-list li >> nth=0") in saved
    assert has_mfa(user=alice)

    # Sign out, then in again: the password alone no longer opens the cockpit.
    page.goto(f"{base}/o/acme/devices/")
    page.click("#org-switcher summary")
    page.click("#org-switcher button[type=submit]")
    page.wait_for_url(f"{base}/login/")
    page.goto(f"{base}/o/acme/devices/")
    page.fill("#id_username", "alice@acme.test")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/login/verify/")
    page.fill("#mfa-verify-form input[name=code]", "000000")
    page.click("#mfa-verify-form button")
    page.wait_for_selector("#mfa-verify >> text=not valid")  # the answer is the same page, with the error
    assert "not valid" in page.inner_text("#mfa-verify")
    page.fill("#mfa-verify-form input[name=code]", code_after_enrolment(alice, key))  # not the code used to enrol
    page.click("#mfa-verify-form button")
    page.wait_for_url(f"{base}/o/acme/devices/")  # ``next`` kept through the second step
    assert "Devices" in page.inner_text("h1")
