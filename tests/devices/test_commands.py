"""The one wipe pathway (issue #10 §1): every move that asks for a wipe records a device command in its own
transaction, the real Celery task sends it to the Fleet simulator after commit, and a later sync confirms it.
Also archive's "remove from Fleet", the organization's hold until wiped on any reassignment, the defaults the
cockpit and the API offer, and the device page and API showing the command's state."""

import pytest
from django.urls import reverse

from core.audit import Source
from core.models import AuditEvent
from devices import commands, handover
from devices import services as device_services
from devices.models import AvailabilityStatus, Device, DeviceCommand, DeviceHistory, Platform
from tests.conftest import sync_now
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.usefixtures("commands_run_now")


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Builder", email="bob@acme.test")


def fleet_macs(org, sim, n=1):
    """``n`` synced devices whose Fleet hosts are healthy Macs (Fleet accepts to wipe them)."""
    assert sync_now(org, sim).status == "succeeded"
    healthy = sim.ids_in_situation("healthy")
    devices = list(Device.objects.for_org(org).filter(fleet_host_id__in=healthy, platform=Platform.MACOS)
                   .order_by("fleet_host_id")[:n])
    assert len(devices) == n
    return devices


def owned_mac(org, sim, employee, actor):
    device, = fleet_macs(org, sim)
    return device_services.device_assign(device=device, employee=employee, actor=actor)


def settle_and_sync(org, sim):
    """Fleet shows a queued wipe pending, then done (the host checks in): two syncs later it is visible."""
    sim.settle_device_actions()
    return sync_now(org, sim)


@pytest.mark.parametrize("move", ["reassign", "unassign", "return_to_stock", "archive"])
def test_each_move_with_a_wipe_reaches_fleet_and_is_confirmed(connected, sim, actor, employee, bob, move,
                                                              django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    kwargs = {"employee": bob} if move == "reassign" else {}
    with django_capture_on_commit_callbacks(execute=True):
        moved = getattr(device_services, f"device_{move}")(device=device, actor=actor, wipe=True, **kwargs)

    wipe = DeviceCommand.objects.get(device=device)
    assert (wipe.kind, wipe.status, wipe.attempts) == (DeviceCommand.Kind.WIPE, DeviceCommand.Status.SENT, 1)
    assert wipe.fleet_host_id == device.fleet_host_id and wipe.source == Source.MANUAL
    assert ("POST", f"/api/v1/fleet/hosts/{device.fleet_host_id}/wipe") in sim.requests_log
    assert moved.history.first().wipe_requested
    assert AuditEvent.objects.for_target(device).filter(event="wipe.sent").exists()

    run = settle_and_sync(connected, sim)
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.CONFIRMED and wipe.confirmed_at
    assert run.follow_ups["mdm_sync.command_confirmation"]["commands_confirmed"] == 1
    assert AuditEvent.objects.for_target(device).filter(event="wipe.confirmed").exists()


def test_a_move_without_wipe_sends_nothing_and_says_nothing_of_a_wipe(connected, sim, actor, employee,
                                                                      django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    with django_capture_on_commit_callbacks(execute=True):
        device_services.device_unassign(device=device, actor=actor)
    assert not DeviceCommand.objects.exists()
    assert not any(path.endswith("/wipe") for _method, path in sim.requests_log)
    assert not device.history.first().wipe_requested
    event = AuditEvent.objects.for_target(device).get(event="device.unassigned")
    assert "wipe" not in event.sentence


def test_nothing_leaves_before_the_move_commits(org, actor, employee, command_queue, monkeypatch,
                                               django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(commands, "queue_command_sending", queued.append)
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=77),
                                           employee=employee, actor=actor)
    with django_capture_on_commit_callbacks() as callbacks:
        device_services.device_return_to_stock(device=device, actor=actor, wipe=True)
        assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [org.pk]


def test_a_failed_move_leaves_no_command(org, actor, employee):
    device = DeviceFactory(organization=org, fleet_host_id=78)
    with pytest.raises(Exception, match="no owner"):
        device_services.device_reassign(device=device, employee=employee, actor=actor, wipe=True)
    assert not DeviceCommand.objects.exists()


def test_a_wipe_already_on_its_way_is_not_asked_twice(org, actor, employee, bob):
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=79),
                                           employee=employee, actor=actor)
    device = device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)
    device_services.device_unassign(device=device, actor=actor, wipe=True)
    assert DeviceCommand.objects.filter(device=device).count() == 1


def test_hold_until_wiped_applies_to_any_reassignment(connected, sim, actor, employee, bob,
                                                      django_capture_on_commit_callbacks):
    connected.offboarding_hold_until_wipe = True
    connected.save()
    device = owned_mac(connected, sim, employee, actor)
    with django_capture_on_commit_callbacks(execute=True):
        held = device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)
    assert held.availability_status == AvailabilityStatus.IN_STOCK and held.assignee is None
    last = held.history.first()
    assert last.action == DeviceHistory.Action.RETURNED_TO_STOCK and "then goes to Bob Builder" in last.reason
    wipe = DeviceCommand.objects.get(device=device)
    assert wipe.hand_over_to == bob and wipe.awaits_hand_over

    sync_now(connected, sim)  # Fleet shows the wipe pending: still held
    device.refresh_from_db()
    assert device.assignee is None
    run = settle_and_sync(connected, sim)
    device.refresh_from_db()
    wipe.refresh_from_db()
    assert device.assignee == bob and device.availability_status == AvailabilityStatus.IN_USE
    assert wipe.handed_over_at and run.follow_ups["mdm_sync.command_confirmation"]["handed_over"] == 1


def test_without_a_wipe_a_reassignment_is_never_held(org, actor, employee, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    assert device_services.device_reassign(device=device, employee=bob, actor=actor).assignee == bob


def test_a_held_device_is_handed_over_now_by_an_admin(org, actor, employee, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=80),
                                           employee=employee, actor=actor)
    device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)
    wipe = DeviceCommand.objects.get()
    assert handover.command_hand_over(command=wipe, actor=actor) is True
    device.refresh_from_db()
    assert device.assignee == bob
    with pytest.raises(Exception, match="not waiting"):
        handover.command_hand_over(command=wipe, actor=actor)


def test_archive_can_release_the_device_from_fleet(connected, sim, actor, employee,
                                                   django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    host = device.fleet_host_id
    with django_capture_on_commit_callbacks(execute=True):
        device_services.device_archive(device=device, actor=actor, remove_from_fleet=True)
    removal = DeviceCommand.objects.get(device=device)
    assert (removal.kind, removal.status) == (DeviceCommand.Kind.REMOVE, DeviceCommand.Status.SENT)
    # A Mac enrolled in Fleet's MDM: MDM turned off first, then the host deleted.
    log = sim.requests_log
    mdm_off, delete = ("DELETE", f"/api/v1/fleet/hosts/{host}/mdm"), ("DELETE", f"/api/v1/fleet/hosts/{host}")
    assert log.index(mdm_off) < log.index(delete)
    assert host not in sim.host_ids()
    sync_now(connected, sim)
    removal.refresh_from_db()
    assert removal.status == DeviceCommand.Status.CONFIRMED
    assert "removal from Fleet requested" in AuditEvent.objects.for_target(device).get(event="device.archived").sentence


def test_a_removal_waits_for_the_wipe_of_the_same_device(connected, sim, actor, employee,
                                                          django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    host = device.fleet_host_id
    with django_capture_on_commit_callbacks(execute=True):
        device_services.device_archive(device=device, actor=actor, wipe=True, remove_from_fleet=True)
    wipe = DeviceCommand.objects.get(device=device, kind=DeviceCommand.Kind.WIPE)
    removal = DeviceCommand.objects.get(device=device, kind=DeviceCommand.Kind.REMOVE)
    assert wipe.status == DeviceCommand.Status.SENT
    assert removal.status == DeviceCommand.Status.REQUESTED and removal.attempts == 0
    assert host in sim.host_ids()
    settle_and_sync(connected, sim)
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.CONFIRMED
    from mdm_sync.commands import commands_send_due

    removal.refresh_from_db()
    assert commands_send_due(organization=connected, now=removal.next_attempt_at)["sent"] == 1
    assert host not in sim.host_ids()


def test_removal_of_a_device_fleet_never_knew_is_refused(org, actor):
    device = DeviceFactory(organization=org)
    with pytest.raises(Exception, match="not known to Fleet"):
        device_services.device_archive(device=device, actor=actor, remove_from_fleet=True)
    device.refresh_from_db()
    assert not device.is_archived and not DeviceCommand.objects.exists()


# --- the API -----------------------------------------------------------------------------------


def test_api_reassign_with_wipe_sends_it_and_shows_its_state(connected, sim, actor, employee, bob, api,
                                                             django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/devices/{device.pk}/reassign/", {"employee": bob.email, "wipe": True},
                            format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["wipe"]["status"] == "requested" and body["fleet_removal"] is None and body["warnings"] == []
    detail = api.get(f"/api/v1/devices/{device.pk}/").json()
    assert detail["wipe"]["status"] == "sent" and detail["wipe"]["sent_at"] and detail["wipe"]["error"] == ""
    settle_and_sync(connected, sim)
    detail = api.get(f"/api/v1/devices/{device.pk}/").json()
    assert detail["wipe"]["status"] == "confirmed" and detail["wipe"]["confirmed_at"]
    history = api.get(f"/api/v1/devices/{device.pk}/history/").json()["results"]
    assert history[0]["action"] == "reassigned" and history[0]["wipe_requested"] is True


def test_api_wipe_defaults_to_false(org, actor, employee, bob, api):
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=81),
                                           employee=employee, actor=actor)
    response = api.post(f"/api/v1/devices/{device.pk}/reassign/", {"employee": bob.pk}, format="json")
    assert response.status_code == 200 and response.json()["wipe"] is None
    assert not DeviceCommand.objects.exists()
    assert api.get(f"/api/v1/devices/{device.pk}/history/").json()["results"][0]["wipe_requested"] is False


def test_api_archive_with_removal_and_a_failed_wipe_shows_fleets_message(connected, sim, actor, employee, api,
                                                                         django_capture_on_commit_callbacks):
    device = owned_mac(connected, sim, employee, actor)
    sim.update_host(device.fleet_host_id, mdm={"enrollment_status": "On (personal)"})  # Fleet refuses BYOD wipes
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/devices/{device.pk}/archive/", {"wipe": True, "remove_from_fleet": True},
                            format="json")
    assert response.status_code == 200, response.content
    detail = api.get(f"/api/v1/devices/{device.pk}/").json()
    assert detail["wipe"]["status"] == "failed"
    assert "Personal (BYOD) hosts cannot be wiped." in detail["wipe"]["error"]
    # The device must not leave management unwiped: the removal fails too, saying why.
    assert detail["fleet_removal"]["status"] == "failed"
    assert "wipe asked before it failed" in detail["fleet_removal"]["error"]
    assert device.fleet_host_id in sim.host_ids()


def test_api_refuses_unknown_move_fields(org, actor, employee, api):
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    response = api.post(f"/api/v1/devices/{device.pk}/unassign/", {"remove_from_fleet": True}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not DeviceCommand.objects.exists()


# --- the cockpit -------------------------------------------------------------------------------


def test_wipe_is_pre_ticked_only_when_the_owner_changes(cockpit_client, org, actor, employee):
    owned = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    spare = DeviceFactory(organization=org)

    def ticked(device, move):
        page = cockpit_client.get(reverse("device_move", args=[org.slug, device.pk, move])).content.decode()
        field = page.split('name="wipe"', 1)[1].split(">", 1)[0]
        return "checked" in field

    assert all(ticked(owned, move) for move in ("reassign", "unassign", "return-to-stock", "archive"))
    assert not ticked(spare, "archive")
    device_services.device_assign(device=spare, employee=employee, actor=actor)
    device_services.device_unassign(device=spare, actor=actor)
    assert not ticked(spare, "return-to-stock")  # in use without an owner: nobody's data to protect


def test_archive_offers_removal_only_for_a_device_fleet_knows(cockpit_client, org):
    known, unknown = DeviceFactory(organization=org, fleet_host_id=82), DeviceFactory(organization=org)
    assert 'name="remove_from_fleet"' in cockpit_client.get(
        reverse("device_move", args=[org.slug, known.pk, "archive"])).content.decode()
    assert 'name="remove_from_fleet"' not in cockpit_client.get(
        reverse("device_move", args=[org.slug, unknown.pk, "archive"])).content.decode()


def test_cockpit_move_with_wipe_shows_the_command_on_the_device_page(cockpit_client, org, actor, employee, bob,
                                                                     command_queue):
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=83),
                                           employee=employee, actor=actor)
    response = cockpit_client.post(reverse("device_move", args=[org.slug, device.pk, "reassign"]),
                                   {"employee": bob.email, "wipe": "on", "version": device.version})
    assert response.status_code == 302, response.content.decode()[:2000]
    wipe = DeviceCommand.objects.get(device=device)
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    assert 'id="wipe-panel"' in page and "Requested" in page and "(wipe requested)" in page
    commands.command_failed(wipe, actor=actor, error="Fleet said no.")
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    assert "Fleet said no." in page and reverse("wipe_retry", args=[org.slug, wipe.pk]) in page
    cockpit_client.post(reverse("wipe_retry", args=[org.slug, wipe.pk]))
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.REQUESTED and wipe.attempts == 0
