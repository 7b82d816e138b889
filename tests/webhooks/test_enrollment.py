"""``device.enrollment_changed``: the sync rewrites enrollment statuses in bulk (COPY on PostgreSQL), without an audit
entry each, and the event still goes out once per change; a move's change is announced too; a device first seen is
recorded silently."""

from datetime import timedelta

import pytest
from django.db import connection

from core.actors import Actor
from devices import services as device_services
from devices.models import Device
from mdm_sync import sync_apply
from mdm_sync.sync_writers import OrmWriter
from tests.conftest import SIM_NOW, sync_now
from webhooks import services
from webhooks.enrollment import enrollment_check
from webhooks.models import EnrollmentState, Message

pytestmark = pytest.mark.usefixtures("send_now")
STEP = "webhooks.enrollment_changes"


@pytest.fixture(params=["default", "orm"])
def writer(request, monkeypatch):
    """The database's own writer (COPY on PostgreSQL, the ORM on SQLite); on PostgreSQL the ORM one too."""
    if request.param == "orm":
        if connection.vendor != "postgresql":
            pytest.skip("SQLite has one writer")
        monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    return request.param


@pytest.fixture
def sync(django_capture_on_commit_callbacks):
    """One sync, its commit callbacks run: the after-sync step's deliveries are sent, as a worker would."""

    def run(org, sim):
        with django_capture_on_commit_callbacks(execute=True):
            return sync_now(org, sim)

    return run


def hosts(sim, situation, n):
    return [h for h in sim.host_ids() if sim.situation(h) == situation][:n]


def test_a_sync_that_changes_enrollment_statuses_in_bulk_announces_each_once(connected, sim, sync, endpoint,
                                                                               receiver, writer):
    first = sync(connected, sim)
    assert first.status == "succeeded", first.error
    assert first.follow_ups[STEP] == {"ok": True, "deliveries": 0}  # devices first seen: recorded, not announced
    assert EnrollmentState.objects.filter(organization=connected).count() == Device.objects.for_org(connected).count()

    going_offline = hosts(sim, "healthy", 3)
    for host_id in going_offline:
        sim.update_host(host_id, seen_time=SIM_NOW - timedelta(days=9))
    second = sync(connected, sim)
    assert second.follow_ups[STEP] == {"ok": True, "deliveries": 3}

    changed = {p["data"]["device"]["id"]: p for p in receiver.payloads("device.enrollment_changed")}
    devices = Device.objects.for_org(connected).filter(fleet_host_id__in=going_offline)
    assert set(changed) == {device.pk for device in devices}
    for device in devices:
        data = changed[device.pk]["data"]
        assert data["previous_enrollment_status"] == "awaiting_user_assignment"
        assert data["device"]["enrollment_status"] == "partially_enrolled" == device.enrollment_status
        assert data["device"]["enrollment_issues"] == device.enrollment_issues != []
        assert data["device"]["serial_number"] == device.serial_number
    assert all(item.verified for item in receiver.received)

    third = sync(connected, sim)  # nothing changed since
    assert third.follow_ups[STEP]["deliveries"] == 0
    assert len(receiver.payloads("device.enrollment_changed")) == 3


def test_a_move_that_changes_the_enrollment_status_announces_both(connected, sim, sync, receiver, relay, employee,
                                                                  actor):
    sync(connected, sim)
    endpoint, secret = services.endpoint_create(organization=connected, actor=actor, url=receiver.url,
                                                event_types=["device.assigned", "device.enrollment_changed"])
    receiver.secrets.append(secret)
    # Subscribing recorded every device's status at once: the next change is announced.
    assert EnrollmentState.objects.filter(organization=connected).count() == Device.objects.for_org(connected).count()
    device = Device.objects.for_org(connected).get(fleet_host_id=hosts(sim, "healthy", 1)[0])
    assert device.enrollment_status == "awaiting_user_assignment"
    device_services.device_assign(device=device, employee=employee, actor=actor)
    relay()
    assigned, = receiver.payloads("device.assigned")
    assert assigned["data"]["device"]["enrollment_status"] == "enrolled"
    changed, = receiver.payloads("device.enrollment_changed")
    assert changed["data"]["previous_enrollment_status"] == "awaiting_user_assignment"
    assert changed["data"]["device"]["enrollment_status"] == "enrolled"
    assert changed["data"]["employee"]["email"] == employee.email


def test_two_checks_announce_a_change_once(connected, sim, sync, endpoint, receiver):
    sync(connected, sim)
    host_id = hosts(sim, "healthy", 1)[0]
    device = Device.objects.for_org(connected).get(fleet_host_id=host_id)
    Device.objects.filter(pk=device.pk).update(enrollment_status="unenrolled")
    assert enrollment_check(organization_id=connected.pk) == 1
    assert enrollment_check(organization_id=connected.pk, device_ids=[device.pk]) == 0
    assert Message.objects.filter(event_type="device.enrollment_changed").count() == 1


def test_an_organization_that_stops_wanting_the_event_forgets_and_starts_afresh(connected, sim, sync, endpoint,
                                                                                receiver, actor):
    sync(connected, sim)
    device = Device.objects.for_org(connected).get(fleet_host_id=hosts(sim, "healthy", 1)[0])
    services.endpoint_update(endpoint=endpoint, actor=actor, event_types=["device.assigned"])
    assert not EnrollmentState.objects.filter(organization=connected).exists()
    Device.objects.filter(pk=device.pk).update(enrollment_status="unenrolled")  # nobody listened
    services.endpoint_update(endpoint=endpoint, actor=actor, event_types=["device.enrollment_changed"])
    assert EnrollmentState.objects.get(device=device).enrollment_status == "unenrolled"
    Device.objects.filter(pk=device.pk).update(enrollment_status="partially_enrolled")
    assert enrollment_check(organization_id=connected.pk) == 1
    message = Message.objects.get(event_type="device.enrollment_changed")
    assert message.payload["data"]["previous_enrollment_status"] == "unenrolled"  # not the stale status


def test_organizations_without_a_subscriber_keep_no_states(connected, sim, sync):
    run = sync(connected, sim)
    assert run.follow_ups[STEP] == {"ok": True, "deliveries": 0}
    assert not EnrollmentState.objects.exists()
    assert enrollment_check(organization_id=connected.pk) == 0


def test_a_disabled_endpoint_hears_nothing(connected, sim, sync, endpoint, receiver):
    sync(connected, sim)
    services.endpoint_update(endpoint=endpoint, actor=Actor.system("tests"), enabled=False)
    for host_id in hosts(sim, "healthy", 2):
        sim.update_host(host_id, seen_time=SIM_NOW - timedelta(days=9))
    assert sync(connected, sim).follow_ups[STEP]["deliveries"] == 0
    assert receiver.received == []
