"""Fleet's Apple push (APNs) certificate: client, simulator, the sync's health rule, the pages."""

import subprocess
import sys
from datetime import timedelta

import pytest
import requests

from devices.models import Device
from mdm_sync.fleet import FleetClient
from mdm_sync.health import APPLE_PLATFORMS
from mdm_sync.models import FleetConnection
from tests.conftest import SIM_NOW, SIM_TOKEN, sync_now

EXPIRED = "apns_certificate_expired"
APNS = "/api/v1/fleet/apns"


def client_for(sim):
    return FleetClient(sim.base_url, SIM_TOKEN, retries=0, backoff=0)


def apple_mdm_on(org):
    return [d for d in Device.objects.for_org(org) if d.platform in APPLE_PLATFORMS and d.mdm_status.startswith("On")]


# --- simulator and client -----------------------------------------------------------------------


@pytest.mark.parametrize("state,days", [("valid", 200), ("expiring", 10), ("expired", -3)])
def test_simulator_reports_the_certificate_like_fleet(sim, state, days):
    sim.set_apns(state)
    body = requests.get(sim.base_url + APNS, headers={"Authorization": f"Bearer {SIM_TOKEN}"}, timeout=5).json()
    assert set(body) == {"common_name", "serial_number", "issuer", "renew_date"}
    certificate = client_for(sim).get_apns()
    assert certificate.renew_date == SIM_NOW + timedelta(days=days)
    assert certificate.expired(SIM_NOW) is (days < 0)
    assert certificate.issuer.startswith("Apple") and certificate.common_name.startswith("APSP:")


def test_not_configured_is_a_404_and_none_for_the_client(sim):
    sim.set_apns("not_configured")
    answer = requests.get(sim.base_url + APNS, headers={"Authorization": f"Bearer {SIM_TOKEN}"}, timeout=5)
    assert answer.status_code == 404 and answer.json()["message"] == "Resource Not Found"
    assert client_for(sim).get_apns() is None


def test_unknown_apns_state_is_refused(sim):
    with pytest.raises(ValueError):
        sim.set_apns("bogus")


def test_simulator_command_takes_the_apns_knob():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fleet_simulator", "--port", "0", "--hosts", "3", "--apns", "expired"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert any("Apple push certificate: expired" in line for line in lines), lines
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the sync ---------------------------------------------------------------------------------


def test_an_expired_certificate_flags_apple_devices_with_mdm_on(connected, sim):
    sim.set_apns("expired")
    assert sync_now(connected, sim).status == "succeeded"
    connection = FleetConnection.objects.for_org(connected).get()
    assert connection.apns_configured and connection.apns_expires_at == SIM_NOW - timedelta(days=3)
    assert connection.apns_checked_at is not None and connection.apns_error == ""
    flagged = {d.pk for d in Device.objects.for_org(connected) if EXPIRED in d.enrollment_issues}
    expected = {d.pk for d in apple_mdm_on(connected)}
    assert expected and flagged == expected
    others = Device.objects.for_org(connected).exclude(pk__in=expected)
    assert others.filter(platform__in=["windows", "linux", "android"]).exists()


def test_renewing_the_certificate_clears_the_issue_at_the_next_sync(connected, sim):
    sim.set_apns("expired")
    sync_now(connected, sim)
    sim.set_apns("valid")
    run = sync_now(connected, sim)
    assert run.status == "succeeded" and run.updated >= len(apple_mdm_on(connected))
    assert not any(EXPIRED in d.enrollment_issues for d in Device.objects.for_org(connected))
    connection = FleetConnection.objects.for_org(connected).get()
    assert connection.apns_expires_at == SIM_NOW + timedelta(days=200) and not connection.apns_expired(SIM_NOW)


@pytest.mark.parametrize("state", ["valid", "expiring", "not_configured"])
def test_no_issue_while_the_certificate_is_valid_or_absent(connected, sim, state):
    sim.set_apns(state)
    assert sync_now(connected, sim).status == "succeeded"
    assert not any(EXPIRED in d.enrollment_issues for d in Device.objects.for_org(connected))
    connection = FleetConnection.objects.for_org(connected).get()
    assert connection.apns_configured is (state != "not_configured")


@pytest.mark.parametrize("status", [500, 403])
def test_an_unreadable_certificate_does_not_fail_the_sync_and_keeps_the_last_known_expiry(connected, sim, status):
    sim.set_apns("expired")
    sync_now(connected, sim)
    known = FleetConnection.objects.for_org(connected).get().apns_expires_at
    sim.faults.apns_status = status
    run = sync_now(connected, sim)
    assert run.status == "succeeded", run.error
    connection = FleetConnection.objects.for_org(connected).get()
    assert connection.apns_expires_at == known and "Apple push certificate" in connection.apns_error
    assert all(EXPIRED in d.enrollment_issues for d in apple_mdm_on(connected))


def test_an_unreadable_certificate_on_the_first_sync_flags_nothing(connected, sim):
    sim.faults.apns_status = 500
    run = sync_now(connected, sim)
    assert run.status == "succeeded" and run.created
    assert FleetConnection.objects.for_org(connected).get().apns_configured is None
    assert not any(EXPIRED in d.enrollment_issues for d in Device.objects.for_org(connected))


# --- the pages ----------------------------------------------------------------------------------


@pytest.fixture
def fleet_settings_url(org):
    from django.urls import reverse

    return reverse("fleet_settings", args=[org.slug])


def set_expiry(org, delta, *, configured=True):
    from django.utils import timezone

    FleetConnection.objects.for_org(org).update(
        apns_configured=configured, apns_expires_at=timezone.now() + delta if configured else None,
        apns_checked_at=timezone.now(),
    )
    return timezone.now() + delta


def test_pages_warn_within_30_days_of_expiry(cockpit_client, connected, fleet_settings_url):
    expiry = set_expiry(connected, timedelta(days=12))
    body = cockpit_client.get(fleet_settings_url).content.decode()
    assert "Expires soon" in body and expiry.strftime("%Y-%m-%d") in body and "renew it in Fleet" in body
    dashboard = cockpit_client.get(f"/o/{connected.slug}/").content.decode()
    assert "APNs expires soon" in dashboard and expiry.strftime("%Y-%m-%d") in dashboard


def test_pages_say_when_the_certificate_has_expired(cockpit_client, connected, fleet_settings_url):
    expiry = set_expiry(connected, timedelta(days=-2))
    body = cockpit_client.get(fleet_settings_url).content.decode()
    assert "Expired" in body and expiry.strftime("%Y-%m-%d") in body
    dashboard = cockpit_client.get(f"/o/{connected.slug}/").content.decode()
    assert "APNs expired" in dashboard and "renews it in Fleet" in dashboard


def test_a_valid_certificate_shows_its_date_without_a_warning(cockpit_client, connected, fleet_settings_url):
    expiry = set_expiry(connected, timedelta(days=120))
    body = cockpit_client.get(fleet_settings_url).content.decode()
    assert f"valid until {expiry:%Y-%m-%d}" in body and "Expires soon" not in body
    dashboard = cockpit_client.get(f"/o/{connected.slug}/").content.decode()
    assert "APNs" not in dashboard


def test_settings_page_before_any_read_and_without_a_certificate(cockpit_client, connected, fleet_settings_url):
    assert "not read yet" in cockpit_client.get(fleet_settings_url).content.decode()
    set_expiry(connected, timedelta(0), configured=False)
    assert "no certificate in Fleet" in cockpit_client.get(fleet_settings_url).content.decode()


def test_the_sync_fills_the_settings_page(cockpit_client, connected, sim, fleet_settings_url):
    sim.set_apns("expired")
    sync_now(connected, sim)
    body = cockpit_client.get(fleet_settings_url).content.decode()
    assert "Expired" in body and (SIM_NOW - timedelta(days=3)).strftime("%Y-%m-%d") in body
