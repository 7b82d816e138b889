"""Auto-unenrollment (DESIGN §9) against the simulator: threshold, owner kept, history, re-invitation,
the stale-sync and share-of-fleet guards, the legal-hold exemption, preview = run, idempotence."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from core.models import AuditEvent
from core.services import organization_update_settings
from devices import services as device_services
from devices.models import Device, DeviceHistory, EnrollmentStatus
from enrollment import tasks
from enrollment.models import AutoUnenrollRun, Invitation
from enrollment.services import device_set_auto_unenroll_exempt
from enrollment.unenroll import auto_unenroll_plan, auto_unenroll_run
from mdm_sync.fleet import FleetClient
from mdm_sync.models import FleetConnection
from tests.conftest import SIM_TOKEN, running_simulator, sync_now
from tests.factories import EmployeeFactory

SYSTEM = Actor.system("tests")


def configure(org, **changes):
    settings = {"auto_unenroll_enabled": True, "auto_unenroll_max_share_percent": 100} | changes
    return organization_update_settings(organization=org, actor=SYSTEM, **settings)


@pytest.fixture
def sim():
    """conftest's ``sim`` with 30 hosts instead of 120: the tests need three enrolled Macs, an enrolled Windows
    host and a few others, and the first sync of 120 hosts was most of each test's time."""
    yield from running_simulator(hosts=30)


@pytest.fixture
def fleet(connected, sim):
    """``org`` synced with the simulator, three enrolled devices made silent for 40, 31 and 29 days, with owners."""
    assert sync_now(connected, sim).status == "succeeded"
    now = timezone.now()
    managed = list(Device.objects.for_org(connected).filter(mdm_enrolled_at__isnull=False, platform="macos",
                                                            fleet_host_id__isnull=False).order_by("id"))
    # Every other device: recently seen, so the three below are the only ones past any threshold.
    Device.objects.for_org(connected).update(last_seen_at=now - timedelta(hours=1))
    old, older, recent = managed[:3]
    owners = []
    for device, days in ((old, 31), (older, 40), (recent, 29)):
        Device.objects.filter(pk=device.pk).update(last_seen_at=now - timedelta(days=days))
        owner = EmployeeFactory(organization=connected, email=f"owner{days}@acme.test")
        device_services.device_assign(device=device, employee=owner, actor=SYSTEM)
        owners.append(owner)
    return {"org": configure(connected), "old": old, "older": older, "recent": recent, "owners": owners}


def reload(device):
    return Device.objects.get(pk=device.pk)


def test_disabled_does_nothing(connected, sim):
    sync_now(connected, sim)
    assert auto_unenroll_run(organization=connected, actor=SYSTEM) is None
    assert not AutoUnenrollRun.objects.exists()


def test_run_purges_past_the_threshold_keeps_owner_and_reinvites(fleet, sim, django_capture_on_commit_callbacks):
    org, old, older, recent = fleet["org"], fleet["old"], fleet["older"], fleet["recent"]
    with django_capture_on_commit_callbacks(execute=True):
        run = auto_unenroll_run(organization=org, actor=SYSTEM)

    assert run.status == AutoUnenrollRun.Status.SUCCEEDED
    assert sorted(run.purged_ids) == sorted([old.pk, older.pk])
    for device, owner in ((old, fleet["owners"][0]), (older, fleet["owners"][1])):
        device = reload(device)
        assert device.enrollment_status == EnrollmentStatus.UNENROLLED and device.unenrolled_at
        assert device.assignee == owner and device.availability_status == "in_use"  # owner kept
        assert sim.host_json(device.fleet_host_id) is None  # deleted from Fleet
        history = device.history.get(action=DeviceHistory.Action.UNENROLLED)
        assert history.source == "enrollment" and history.assignee_after == owner
        assert AuditEvent.objects.for_org(org).filter(event="device.unenrolled", target_id=str(device.pk)).exists()
    assert reload(recent).unenrolled_at is None and sim.host_json(recent.fleet_host_id) is not None
    assert run.reinvited == 2
    invited = sorted(Invitation.objects.filter(reason="auto_unenroll").values_list("employee__email", flat=True))
    assert invited == ["owner31@acme.test", "owner40@acme.test"]
    assert sorted(m.to[0] for m in mail.outbox) == invited
    assert AuditEvent.objects.for_org(org).filter(event="auto_unenroll.succeeded").count() == 1


def test_no_reinvitation_when_the_setting_is_off(fleet, django_capture_on_commit_callbacks):
    org = configure(fleet["org"], auto_unenroll_reinvite=False)
    with django_capture_on_commit_callbacks(execute=True):
        run = auto_unenroll_run(organization=org, actor=SYSTEM)
    assert len(run.purged_ids) == 2 and run.reinvited == 0 and not mail.outbox


def test_threshold_is_the_setting(fleet):
    org = configure(fleet["org"], auto_unenroll_after_days=35)
    run = auto_unenroll_run(organization=org, actor=SYSTEM)
    assert run.purged_ids == [fleet["older"].pk]


def test_turn_off_mdm_action(fleet, sim):
    org = configure(fleet["org"], auto_unenroll_action="turn_off_mdm")
    run = auto_unenroll_run(organization=org, actor=SYSTEM)
    assert len(run.purged_ids) == 2
    host = sim.host_json(fleet["old"].fleet_host_id)
    assert host is not None and host["mdm"]["enrollment_status"] == "Off"


def test_preview_equals_what_the_run_does(fleet):
    plan = auto_unenroll_plan(organization=fleet["org"])
    run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
    assert plan.device_ids == run.candidate_ids and sorted(plan.device_ids) == sorted(run.purged_ids)


def test_idempotent_when_run_twice(fleet, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
        second = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
    assert len(first.purged_ids) == 2
    assert second.status == AutoUnenrollRun.Status.NOTHING and second.purged_ids == []
    assert DeviceHistory.objects.filter(action="unenrolled").count() == 2
    assert Invitation.objects.count() == 2 and len(mail.outbox) == 2


def test_exempt_device_is_never_purged(fleet):
    device_set_auto_unenroll_exempt(device=fleet["older"], exempt=True, actor=SYSTEM)
    assert fleet["older"].pk not in auto_unenroll_plan(organization=fleet["org"]).device_ids
    run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
    assert run.purged_ids == [fleet["old"].pk] and reload(fleet["older"]).unenrolled_at is None


def test_stale_sync_guard(fleet, sim):
    later = timezone.now() + timedelta(minutes=61)  # two 30-minute sync periods without a successful sync
    run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM, now=later)
    assert run.status == AutoUnenrollRun.Status.STALE_SYNC and run.purged_ids == []
    assert reload(fleet["old"]).unenrolled_at is None and sim.host_json(fleet["old"].fleet_host_id) is not None
    assert auto_unenroll_plan(organization=fleet["org"], now=later).stale_sync


def test_never_synced_is_stale(connected):
    org = configure(connected)
    assert auto_unenroll_run(organization=org, actor=SYSTEM).status == AutoUnenrollRun.Status.STALE_SYNC


def test_a_connection_removed_since_the_last_sync_purges_nothing(fleet, sim):
    FleetConnection.objects.filter(organization=fleet["org"]).delete()
    run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
    assert run.status == AutoUnenrollRun.Status.FAILED and run.message == "This organization is not connected to Fleet."
    assert run.purged_ids == [] and not run.errors
    assert reload(fleet["old"]).unenrolled_at is None and sim.host_json(fleet["old"].fleet_host_id) is not None


def test_a_given_client_is_used_for_every_device_and_left_open(fleet, sim):
    with FleetClient(sim.base_url, SIM_TOKEN, retries=0) as client:
        run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM, client=client)
        assert client.count_hosts() > 0  # still open for its owner
    assert sorted(run.purged_ids) == sorted([fleet["old"].pk, fleet["older"].pk])
    assert sim.host_json(fleet["old"].fleet_host_id) is None


def test_share_of_fleet_guard_stops_and_an_admin_confirms(fleet, sim, admin_user, cockpit_client):
    org = configure(fleet["org"], auto_unenroll_max_share_percent=1)
    run = auto_unenroll_run(organization=org, actor=SYSTEM)
    assert run.status == AutoUnenrollRun.Status.BLOCKED and run.purged_ids == []
    assert sorted(run.candidate_ids) == sorted([fleet["old"].pk, fleet["older"].pk])
    assert reload(fleet["old"]).unenrolled_at is None and sim.host_json(fleet["old"].fleet_host_id) is not None
    # The next hourly run stops again: it does not creep past the guard.
    assert auto_unenroll_run(organization=org, actor=SYSTEM) == run
    assert AutoUnenrollRun.objects.count() == 1  # one record waits for the admin, not one per hour

    page = cockpit_client.get(reverse("remote_management", args=[org.slug]))
    assert b"Purge these 2 devices" in page.content and b"an admin must confirm" in page.content
    response = cockpit_client.post(reverse("autounenrollrun_confirm", args=[org.slug, run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.confirmed_at is not None
    confirmed = AutoUnenrollRun.objects.for_org(org).filter(status="confirmed").get()
    assert sorted(confirmed.purged_ids) == sorted(run.candidate_ids)
    assert reload(fleet["old"]).enrollment_status == EnrollmentStatus.UNENROLLED
    # A run is confirmed once.
    cockpit_client.post(reverse("autounenrollrun_confirm", args=[org.slug, run.pk]))
    assert AutoUnenrollRun.objects.for_org(org).filter(status="confirmed").count() == 1


def test_host_already_gone_from_fleet_counts_as_purged(fleet, sim):
    sim.delete_host(fleet["old"].fleet_host_id)
    run = auto_unenroll_run(organization=fleet["org"], actor=SYSTEM)
    assert sorted(run.purged_ids) == sorted([fleet["old"].pk, fleet["older"].pk]) and not run.errors


def test_fleet_refusal_is_recorded_and_the_device_tried_again_next_run(connected, sim):
    sync_now(connected, sim)
    windows = Device.objects.for_org(connected).filter(platform="windows", mdm_enrolled_at__isnull=False).first()
    Device.objects.for_org(connected).update(last_seen_at=timezone.now())
    Device.objects.filter(pk=windows.pk).update(last_seen_at=timezone.now() - timedelta(days=60))
    org = configure(connected, auto_unenroll_action="turn_off_mdm")  # Fleet cannot turn MDM off on Windows

    run = auto_unenroll_run(organization=org, actor=SYSTEM)

    assert run.status == AutoUnenrollRun.Status.FAILED and list(run.errors) == [str(windows.pk)]
    assert reload(windows).unenrolled_at is None
    assert auto_unenroll_plan(organization=org).device_ids == [windows.pk]


def test_a_sync_after_enrolling_again_clears_unenrolled(fleet, sim):
    org = configure(fleet["org"], auto_unenroll_action="turn_off_mdm")
    auto_unenroll_run(organization=org, actor=SYSTEM)
    host_id = fleet["old"].fleet_host_id
    assert reload(fleet["old"]).enrollment_status == EnrollmentStatus.UNENROLLED
    sim.update_host(host_id, mdm={"enrollment_status": "On (manual)", "name": "Fleet", "connected_to_fleet": True,
                                  "server_url": "https://fleet.demo.test/mdm/apple/mdm"})
    sync_now(org, sim)
    device = reload(fleet["old"])
    assert device.unenrolled_at is None and device.enrollment_status != EnrollmentStatus.UNENROLLED
    assert device.assignee == fleet["owners"][0]


def test_hourly_task_fans_out_to_enabled_organizations(fleet, other_org, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.auto_unenroll_organization_task, "delay", lambda pk: queued.append(pk))
    assert tasks.auto_unenroll_all_organizations() == {"queued": 1}
    assert queued == [fleet["org"].pk]
    outcome = tasks.auto_unenroll_organization_task(fleet["org"].pk)
    assert outcome["status"] == "succeeded" and outcome["purged"] == 2


def test_remote_management_settings_page_saves(cockpit_client, org):
    url = reverse("remote_management", args=[org.slug])
    data = {"auto_unenroll_enabled": "on", "auto_unenroll_after_days": 45, "auto_unenroll_action": "turn_off_mdm",
            "auto_unenroll_reinvite": "", "auto_unenroll_max_share_percent": 5, "invite_employees_on_create": "on",
            "enroll_secret": "s3cret", "fleet_url": "https://fleet.acme.test", "package_url_macos": "",
            "package_url_windows": "", "package_url_linux": ""}
    assert cockpit_client.post(url, data).status_code == 302
    org.refresh_from_db()
    assert (org.auto_unenroll_enabled, org.auto_unenroll_after_days, org.auto_unenroll_action,
            org.auto_unenroll_reinvite, org.auto_unenroll_max_share_percent, org.invite_employees_on_create) == (
        True, 45, "turn_off_mdm", False, 5, True)
    from enrollment.models import EnrollmentSettings

    assert EnrollmentSettings.objects.get(organization=org).enroll_secret == "s3cret"
    # Saving again with an empty secret keeps it.
    assert cockpit_client.post(url, data | {"enroll_secret": ""}).status_code == 302
    assert EnrollmentSettings.objects.get(organization=org).enroll_secret == "s3cret"
    bad = cockpit_client.post(url, data | {"auto_unenroll_after_days": 0})
    assert bad.status_code == 400


def test_remote_management_is_for_admins(client, org):
    from core.models import Membership
    from tests.conftest import member

    client.force_login(member(org, Membership.Role.TECHNICIAN))
    assert client.get(reverse("remote_management", args=[org.slug])).status_code == 403


def test_command_preview_and_run(fleet):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("auto_unenroll", fleet["org"].slug, "--preview", stdout=out)
    assert "2 of" in out.getvalue() and str(fleet["old"]) in out.getvalue()
    assert reload(fleet["old"]).unenrolled_at is None  # a preview changes nothing
    out = StringIO()
    call_command("auto_unenroll", fleet["org"].slug, stdout=out)
    assert "2 purged" in out.getvalue()
    with pytest.raises(CommandError, match="No organization"):
        call_command("auto_unenroll", "nope")


def test_command_refuses_when_disabled(connected):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="off"):
        call_command("auto_unenroll", connected.slug)
