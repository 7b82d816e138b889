"""Two-factor authentication's test helpers: real TOTP codes computed from a device's key with django-otp's own
algorithm (``django_otp.oath.totp``), never a mocked verification."""

import time

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mfa import services
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _no_device_delay(settings):
    """django-otp's own throttle makes a device wait 1 s, 2 s, 4 s… after each wrong code: tests that type a right
    code right after a wrong one turn it off (``test_services`` proves it with the default)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code_for(device: TOTPDevice, *, fresh: bool = True) -> str:
    """The code the user's authenticator app shows now. ``fresh``: the first code of a time step the device has not
    accepted yet (a code is accepted once; the device accepts one step either side of its clock)."""
    device.refresh_from_db()
    for drift in (device.drift - 1, device.drift, device.drift + 1) if fresh else (device.drift,):
        step = (int(time.time()) - device.t0) // device.step + drift
        if not fresh or step > device.last_t:
            return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):0{device.digits}d}"
    raise AssertionError("no fresh TOTP step within the device's tolerance")


def replayed_code(device: TOTPDevice) -> str:
    """The code of the time step the device accepted last."""
    device.refresh_from_db()
    now_step = (int(time.time()) - device.t0) // device.step
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.last_t - now_step):0{device.digits}d}"


def enrol(user) -> tuple[TOTPDevice, list[str]]:
    """Set up an authenticator app for ``user`` through the services, as the security page does."""
    device = services.totp_setup_start(user=user)
    return services.totp_setup_confirm(user=user, code=code_for(device))


def password_login(client, user, next_url=None):
    data = {"username": user.username, "password": PASSWORD}
    return client.post("/login/" + (f"?next={next_url}" if next_url else ""), data)


@pytest.fixture
def enrolled(org):
    """An admin of ``org`` with an authenticator app: (user, device, recovery codes)."""
    from tests.conftest import member

    user = member(org)
    device, codes = enrol(user)
    return user, device, codes


def sign_in_with_code(client, user, device) -> None:
    """A full sign-in: the password, then a fresh code of ``device``."""
    password_login(client, user)
    response = client.post("/login/verify/", {"code": code_for(device)})
    assert response.status_code == 302, response.content
