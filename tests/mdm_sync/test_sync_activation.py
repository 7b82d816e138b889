"""A device waiting in stock for its first activation goes into use when a sync sees it enrolled, on both writers."""

import pytest
from django.db import connection

from assignment.models import PreAssignment
from assignment.services import pre_assignment_create
from core.actors import Actor
from core.audit import EVENTS, describe
from core.models import AuditEvent
from devices import services as device_services
from devices.models import Device
from mdm_sync import sync_apply
from mdm_sync.sync_writers import OrmWriter
from tests.conftest import SIM_NOW, sync_now

SYSTEM = Actor.system("tests")


@pytest.fixture(params=["default", "orm"])
def writer(request, monkeypatch):
    """The database's own writer (COPY on PostgreSQL, the ORM on SQLite); on PostgreSQL the ORM one too."""
    if request.param == "orm":
        if connection.vendor != "postgresql":
            pytest.skip("SQLite has one writer")
        monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    return request.param


def placeholder(connected, sim) -> tuple[int, Device]:
    """An Apple Business Manager placeholder the first sync created: in stock, awaiting activation."""
    sync_now(connected, sim)
    host_id = next(h for h in sim.host_ids() if sim.situation(h) == "abm_pending")
    device = Device.objects.for_org(connected).get(fleet_host_id=host_id)
    assert (device.availability_status, device.enrollment_status) == ("in_stock", "awaiting_activation")
    return host_id, device


def activate(sim, host_id) -> None:
    """The employee unboxes the device: Setup Assistant enrolls it in Fleet's MDM and fleetd reports."""
    sim.update_host(
        host_id, seen_time=SIM_NOW, last_mdm_checked_in_at=SIM_NOW, last_mdm_enrolled_at=SIM_NOW,
        orbit_version="1.38.1", osquery_version="5.15.0", hostname="unboxed.local", uuid="UNBOXED-UUID",
        mdm={"enrollment_status": "On (automatic)", "name": "Fleet", "connected_to_fleet": True},
    )


def put_in_use_events(org, device):
    return AuditEvent.objects.for_org(org).for_target(device).filter(event="device.put_in_use")


def test_a_placeholder_that_enrolls_goes_into_use(connected, sim, writer):
    host_id, device = placeholder(connected, sim)
    activate(sim, host_id)
    run = sync_now(connected, sim)
    assert run.status == "succeeded", run.error
    after = Device.objects.for_org(connected).get(pk=device.pk)
    assert (after.availability_status, after.assignment_status, after.assignee) == ("in_use", "to_assign", None)
    assert after.mdm_enrolled_at == SIM_NOW and after.enrollment_status != "awaiting_activation"
    assert after.version == device.version + 1  # a form opened on the stock device is stale now
    event = put_in_use_events(connected, device).get()
    assert (event.source, event.actor_label) == ("sync", "System (tests)")
    assert event.before == {"availability_status": "in_stock", "assignment_status": "to_assign",
                            "enrollment_status": "awaiting_activation"}
    assert event.after == {"availability_status": "in_use", "assignment_status": "to_assign",
                           "enrollment_status": after.enrollment_status}
    history = after.history.get(action="put_in_use")  # the device's history, as the API lists it
    assert (history.source, history.availability_before, history.availability_after) == ("sync", "in_stock", "in_use")
    # Once only: the next syncs see an enrolled device in use.
    sim.update_host(host_id, os_version="macOS 26.1")
    assert sync_now(connected, sim).updated == 1
    assert put_in_use_events(connected, device).count() == 1


def test_the_timeline_says_what_happened(connected, sim):
    host_id, device = placeholder(connected, sim)
    activate(sim, host_id)
    sync_now(connected, sim)
    assert "device.put_in_use" in EVENTS, "register mdm_sync.events.EVENTS from mdm_sync.wiring"
    assert describe(put_in_use_events(connected, device).get()) == (
        f"System (tests) put {device} in use: it enrolled in the MDM for the first time")


def test_a_pre_assigned_placeholder_that_enrolls_is_assigned_to_its_owner(connected, sim, employee):
    """The owner named by serial before the device arrived gets it once it is in use (the after-sync step)."""
    host_id, device = placeholder(connected, sim)
    pa = pre_assignment_create(organization=connected, actor=SYSTEM, serial_number=device.serial_number,
                               employee=employee)
    activate(sim, host_id)
    sync_now(connected, sim)
    device.refresh_from_db()
    assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "assigned", employee)
    pa.refresh_from_db()
    assert pa.status == PreAssignment.Status.APPLIED


def test_a_device_added_by_hand_that_enrolls_goes_into_use(connected, sim, writer):
    """A stock device registered by serial before Fleet knew it waits for activation the same way."""
    host_id = next(h for h in sim.host_ids() if sim.situation(h) == "healthy")
    serial = sim.host_json(host_id)["hardware_serial"]
    device = device_services.device_create(organization=connected, actor=SYSTEM, serial_number=serial, name="Spare")
    assert (device.availability_status, device.mdm_enrolled_at) == ("in_stock", None)
    sync_now(connected, sim)
    device.refresh_from_db()
    assert (device.fleet_host_id, device.availability_status, device.assignment_status) == (
        host_id, "in_use", "to_assign")
    assert put_in_use_events(connected, device).count() == 1


def test_an_archived_placeholder_that_enrolls_stays_archived(connected, sim, writer):
    host_id, device = placeholder(connected, sim)
    device_services.device_archive(device=device, actor=SYSTEM)
    activate(sim, host_id)
    sync_now(connected, sim)
    device.refresh_from_db()
    assert (device.availability_status, device.assignment_status) == ("archived", None)
    assert device.mdm_enrolled_at == SIM_NOW  # the MDM facts are still the sync's
    assert not put_in_use_events(connected, device).exists()


def test_a_device_back_in_stock_after_an_enrollment_stays_in_stock(connected, sim, writer):
    sync_now(connected, sim)
    host_id = next(h for h in sim.host_ids() if sim.situation(h) == "healthy")
    device = Device.objects.for_org(connected).get(fleet_host_id=host_id)
    device = device_services.device_return_to_stock(device=device, actor=SYSTEM)
    assert device.availability_status == "in_stock" and device.mdm_enrolled_at is not None
    sim.update_host(host_id, os_version="macOS 26.1")
    assert sync_now(connected, sim).updated == 1
    device.refresh_from_db()
    assert (device.availability_status, device.os_version) == ("in_stock", "macOS 26.1")
    assert not put_in_use_events(connected, device).exists()


def test_a_placeholder_still_pending_stays_in_stock(connected, sim, writer):
    host_id, device = placeholder(connected, sim)
    sim.update_host(host_id, hardware_model="MacBook Pro (M5)")  # changed, still not enrolled
    sync_now(connected, sim)
    device.refresh_from_db()
    assert (device.availability_status, device.enrollment_status) == ("in_stock", "awaiting_activation")
    assert not put_in_use_events(connected, device).exists()
