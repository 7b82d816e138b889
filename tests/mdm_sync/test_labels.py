"""Groups reach Fleet as manual labels (mdm_sync.labels), against the Fleet simulator over HTTP.

Every membership change, rename and deletion goes through the real services and their after-commit hook, whose
queued task runs in-process here (as a worker would); the after-sync step runs inside the real sync.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core import services as core_services
from core.actors import Actor
from core.models import AuditEvent
from devices import services as device_services
from devices.models import Device
from mdm_sync import labels
from mdm_sync.fleet import FleetClient, FleetError, FleetNotFound
from mdm_sync.models import FleetConnection, GroupLabel, SyncRun
from mdm_sync.services import fleet_connection_save
from mdm_sync.simulator import FleetSimulator
from mdm_sync.tasks import sync_group_labels
from tests.conftest import SIM_NOW, SIM_TOKEN, running_simulator, sync_now
from tests.factories import GroupFactory

STEP = "mdm_sync.group_labels"


@pytest.fixture(autouse=True)
def labels_queue(monkeypatch):
    """The label task queued after commit runs in-process (the real Celery task, applied); records what was queued."""
    queued = []

    def run_now(organization_id, group_ids=None, *, countdown=0):
        queued.append((organization_id, group_ids))
        sync_group_labels.apply(args=[organization_id, group_ids]).get()

    monkeypatch.setattr(labels, "queue_label_sync", run_now)
    return queued


@pytest.fixture
def sim():
    """conftest's ``sim`` with 12 hosts instead of 120: these tests need four synced devices and their hosts, and
    the first sync of 120 hosts was most of each test's time."""
    yield from running_simulator(hosts=12)


@pytest.fixture
def hosts(connected, sim):
    """Four synced devices, each with its Fleet host, in host id order."""
    assert sync_now(connected, sim).status == SyncRun.Status.SUCCEEDED
    devices = list(Device.objects.for_org(connected).filter(fleet_host_id__isnull=False).order_by("fleet_host_id")[:4])
    assert len(devices) == 4
    return devices


def label_calls(sim) -> list[tuple[str, str]]:
    return [(method, path.split("?")[0]) for method, path in sim.requests_log if "/fleet/labels" in path]


def set_groups(device, names, actor, capture):
    with capture(execute=True):
        return device_services.device_update(device=device, actor=actor, groups=names)


def row_of(group) -> GroupLabel:
    return GroupLabel.objects.get(group=group)


# --- the client against the simulator ----------------------------------------------------------------


def test_client_manages_manual_labels(sim):
    client = FleetClient(sim.base_url, SIM_TOKEN, retries=0)
    label = client.create_manual_label(name="Cockpit: Sales", description="ours", host_ids=[3, 1])
    assert label.is_manual and label.host_ids == (1, 3) and label.id > 12  # past Fleet's builtin labels
    assert client.update_label(label.id, host_ids=[2]).host_ids == (2,)
    assert client.update_label(label.id, name="Cockpit: Sales EU").name == "Cockpit: Sales EU"
    assert client.get_label(label.id).host_ids == (2,)
    assert client.update_label(label.id, host_ids=[]).host_ids == ()
    assert [item.name for item in client.list_labels() if item.is_manual] == ["Cockpit: Sales EU"]
    with pytest.raises(FleetError) as taken:
        client.create_manual_label(name="macOS", host_ids=[1])  # a builtin label's name
    assert taken.value.status == 409
    with pytest.raises(FleetError) as builtin:
        client.update_label(2, host_ids=[1])
    assert builtin.value.status == 422
    client.delete_label(label.id)
    with pytest.raises(FleetNotFound):
        client.delete_label(label.id)
    assert ("DELETE", f"/api/v1/fleet/labels/id/{label.id}") in sim.requests_log


def test_simulator_label_hosts_follow_fleet(sim):
    label = sim.create_label({"name": "by serial", "hosts": [sim.host_json(5)["hardware_serial"]]})
    assert label["host_ids"] == [5] and label["label_membership_type"] == "manual"
    sim.delete_host(5)
    assert sim.label_json(label["id"])["host_ids"] == []  # Fleet drops a deleted host's memberships


# --- created on first use, one call per changed group ----------------------------------------------


def test_label_created_on_first_use_then_its_hosts_replaced(hosts, sim, actor, django_capture_on_commit_callbacks):
    core_services.group_create(organization=hosts[0].organization, name="Sales", actor=actor)
    assert label_calls(sim) == [] and not GroupLabel.objects.exists()

    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert [m for m, _ in label_calls(sim)] == ["POST"]
    assert sim.manual_labels() == {"Cockpit: Sales": [hosts[0].fleet_host_id]}
    row = GroupLabel.objects.get()
    assert (row.status, row.host_count, row.label_name) == (GroupLabel.Status.SYNCED, 1, "Cockpit: Sales")
    assert AuditEvent.objects.filter(event="group_label.created").count() == 1

    sim.requests_log.clear()
    set_groups(hosts[1], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert label_calls(sim) == [("PATCH", f"/api/v1/fleet/labels/{row.fleet_label_id}")]
    assert sim.manual_labels() == {"Cockpit: Sales": sorted([hosts[0].fleet_host_id, hosts[1].fleet_host_id])}

    sim.requests_log.clear()
    set_groups(hosts[0], [], actor, django_capture_on_commit_callbacks)
    set_groups(hosts[1], [], actor, django_capture_on_commit_callbacks)
    assert [m for m, _ in label_calls(sim)] == ["PATCH", "PATCH"]
    assert sim.manual_labels() == {"Cockpit: Sales": []}  # the label stays, empty, for the group's next device


def test_one_call_per_changed_group_and_none_when_nothing_changed(hosts, sim, actor,
                                                                 django_capture_on_commit_callbacks):
    org = hosts[0].organization
    for name in ("A", "B", "C"):
        core_services.group_create(organization=org, name=name, actor=actor)
    set_groups(hosts[0], ["A"], actor, django_capture_on_commit_callbacks)
    set_groups(hosts[1], ["B"], actor, django_capture_on_commit_callbacks)
    set_groups(hosts[2], ["C"], actor, django_capture_on_commit_callbacks)
    ids = {row.group.name: row.fleet_label_id for row in GroupLabel.objects.select_related("group")}

    sim.requests_log.clear()
    set_groups(hosts[0], ["B"], actor, django_capture_on_commit_callbacks)  # leaves A, joins B; C untouched
    assert sorted(label_calls(sim)) == sorted([("PATCH", f"/api/v1/fleet/labels/{ids['A']}"),
                                               ("PATCH", f"/api/v1/fleet/labels/{ids['B']}")])

    sim.requests_log.clear()
    with django_capture_on_commit_callbacks(execute=True):
        device_services.device_update(device=hosts[0], actor=actor, notes="same groups")
        device_services.device_update(device=hosts[1], actor=actor, groups=["B"])  # already in B
    assert labels.group_labels_reconcile(organization=org) == {
        "created": 0, "updated": 0, "deleted": 0, "unchanged": 3, "failed": 0, "busy": 0}
    run = sync_now(org, sim)
    assert run.follow_ups[STEP]["unchanged"] == 3
    assert label_calls(sim) == []


def test_edits_close_together_share_one_reconcile(hosts, sim, actor, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(labels, "queue_label_sync", lambda *args, **kwargs: queued.append((args, kwargs)))
    org = hosts[0].organization
    core_services.group_create(organization=org, name="Sales", actor=actor)
    for device in hosts:  # e.g. a CSV import: one committed edit per device
        set_groups(device, ["Sales"], actor, django_capture_on_commit_callbacks)
    assert queued == [((org.pk, None), {"countdown": labels.COALESCE_SECONDS})]

    assert sync_group_labels.apply(args=[org.pk, None]).get()["created"] == 1
    assert label_calls(sim) == [("POST", "/api/v1/fleet/labels")]
    assert sim.manual_labels() == {"Cockpit: Sales": sorted(d.fleet_host_id for d in hosts)}
    set_groups(hosts[0], [], actor, django_capture_on_commit_callbacks)  # after the reconcile started: queued again
    assert len(queued) == 2


def test_after_sync_sends_groups_whose_devices_enrolled_or_were_archived(hosts, sim, actor):
    org = hosts[0].organization
    sales = GroupFactory(organization=org, name="Sales")
    for device in hosts[:3]:
        device.groups.add(sales)  # no hook: as if the devices had joined before the organization connected

    run = sync_now(org, sim)
    assert run.follow_ups[STEP] == {"ok": True, "created": 1, "updated": 0, "deleted": 0, "unchanged": 0,
                                    "failed": 0, "busy": 0}
    assert sim.manual_labels()["Cockpit: Sales"] == sorted(d.fleet_host_id for d in hosts[:3])

    device_services.device_archive(device=hosts[2], actor=actor)
    sim.requests_log.clear()
    assert sync_now(org, sim).follow_ups[STEP]["updated"] == 1
    assert len(label_calls(sim)) == 1
    assert sim.manual_labels()["Cockpit: Sales"] == sorted(d.fleet_host_id for d in hosts[:2])


def test_rename_renames_the_label_and_delete_deletes_it(hosts, sim, actor, django_capture_on_commit_callbacks):
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    label_id = row_of(group).fleet_label_id

    sim.requests_log.clear()
    with django_capture_on_commit_callbacks(execute=True):
        core_services.group_update(group=group, name="Sales EU", actor=actor)
    assert label_calls(sim) == [("PATCH", f"/api/v1/fleet/labels/{label_id}")]
    assert sim.manual_labels() == {"Cockpit: Sales EU": [hosts[0].fleet_host_id]}

    sim.requests_log.clear()
    with django_capture_on_commit_callbacks(execute=True):
        core_services.group_update(group=group, description="only the text", actor=actor)
    assert label_calls(sim) == []

    with django_capture_on_commit_callbacks(execute=True):
        core_services.group_delete(group=group, actor=actor)
    assert label_calls(sim) == [("DELETE", f"/api/v1/fleet/labels/id/{label_id}")]
    assert sim.manual_labels() == {} and not GroupLabel.objects.exists()
    assert AuditEvent.objects.filter(event="group_label.deleted").count() == 1


def test_a_label_whose_creation_answer_was_lost_is_found_again_not_duplicated(hosts, sim, actor,
                                                                              django_capture_on_commit_callbacks):
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    lost = sim.create_label({"name": "Cockpit: Sales", "description": labels.label_description(org, group.pk)})
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert row_of(group).fleet_label_id == lost["id"]
    assert sim.manual_labels() == {"Cockpit: Sales": [hosts[0].fleet_host_id]}


def test_a_label_deleted_in_fleet_comes_back(hosts, sim, actor, django_capture_on_commit_callbacks):
    group = core_services.group_create(organization=hosts[0].organization, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    sim.delete_label(row_of(group).fleet_label_id)
    set_groups(hosts[1], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert row_of(group).status == GroupLabel.Status.SYNCED
    assert sim.manual_labels() == {"Cockpit: Sales": sorted([hosts[0].fleet_host_id, hosts[1].fleet_host_id])}


def test_a_row_held_by_another_worker_is_left_alone(hosts, sim, actor, django_capture_on_commit_callbacks):
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    GroupLabel.objects.filter(group=group).update(lease_until=timezone.now() + timedelta(minutes=1))
    hosts[1].groups.add(group)
    sim.requests_log.clear()
    assert labels.group_labels_reconcile(organization=org)["busy"] == 1
    assert label_calls(sim) == []
    GroupLabel.objects.filter(group=group).update(lease_until=timezone.now() - timedelta(seconds=1))  # lapsed
    assert labels.group_labels_reconcile(organization=org)["updated"] == 1


# --- failures: stored, shown, retried; never failing the edit or the sync --------------------------


def test_failure_is_stored_shown_on_the_group_page_and_retried(hosts, sim, actor, django_capture_on_commit_callbacks,
                                                                cockpit_client):  # the client last: it logs in
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    sim.faults.labels_status = 503
    edited = set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert list(edited.groups.values_list("name", flat=True)) == ["Sales"]  # the edit went through

    row = row_of(group)
    assert row.status == GroupLabel.Status.FAILED and row.fleet_label_id is None and row.attempts == 1
    assert "Fleet kept failing on POST /api/v1/fleet/labels" in row.last_error
    assert row.next_attempt_at > timezone.now()
    page = cockpit_client.get(reverse("group_detail", args=[org.slug, group.pk]))
    assert page.status_code == 200
    assert b'id="fleet-label-error"' in page.content and b"Fleet kept failing" in page.content
    assert b'id="fleet-label-retry"' in page.content

    run = sync_now(org, sim)  # still down: the sync succeeds and records the label's failure
    assert run.status == SyncRun.Status.SUCCEEDED and run.follow_ups[STEP]["failed"] == 1
    assert row_of(group).attempts == 2

    assert labels.organizations_with_due_labels() == []  # backing off
    assert labels.organizations_with_due_labels(now=timezone.now() + timedelta(hours=1)) == [org.pk]

    sim.faults.labels_status = None
    with django_capture_on_commit_callbacks(execute=True):
        response = cockpit_client.post(reverse("group_label_retry", args=[org.slug, group.pk]))
    assert response.status_code == 302
    row = row_of(group)
    assert (row.status, row.last_error, row.attempts) == (GroupLabel.Status.SYNCED, "", 0)
    assert sim.manual_labels() == {"Cockpit: Sales": [hosts[0].fleet_host_id]}
    page = cockpit_client.get(reverse("group_detail", args=[org.slug, group.pk]))
    assert b'id="fleet-label-error"' not in page.content and b"Cockpit: Sales" in page.content


def test_the_next_sync_and_the_periodic_task_retry_a_failed_label(hosts, sim, actor,
                                                                  django_capture_on_commit_callbacks):
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    sim.faults.labels_status = 500
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    sim.faults.labels_status = None
    assert sync_now(org, sim).follow_ups[STEP]["created"] == 1
    assert row_of(group).status == GroupLabel.Status.SYNCED

    sim.faults.labels_status = 500
    set_groups(hosts[1], ["Sales"], actor, django_capture_on_commit_callbacks)
    assert row_of(group).status == GroupLabel.Status.FAILED
    sim.faults.labels_status = None
    GroupLabel.objects.filter(group=group).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert labels.organizations_with_due_labels() == [org.pk]
    assert sync_group_labels.apply(args=[org.pk]).get()["updated"] == 1
    assert sim.manual_labels() == {"Cockpit: Sales": sorted([hosts[0].fleet_host_id, hosts[1].fleet_host_id])}


def test_a_name_taken_by_a_label_that_is_not_ours_is_a_stored_refusal(hosts, sim, actor,
                                                                      django_capture_on_commit_callbacks):
    sim.create_label({"name": "Cockpit: Sales", "description": "made by hand in Fleet"})
    group = core_services.group_create(organization=hosts[0].organization, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    row = row_of(group)
    assert row.status == GroupLabel.Status.FAILED and "is not this group's" in row.last_error
    assert sim.manual_labels() == {"Cockpit: Sales": []}  # the other label is left alone


def test_a_deleted_group_whose_label_fleet_refused_to_delete_is_retried(hosts, sim, actor,
                                                                       django_capture_on_commit_callbacks):
    org = hosts[0].organization
    group = core_services.group_create(organization=org, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    sim.faults.labels_status = 503
    with django_capture_on_commit_callbacks(execute=True):
        core_services.group_delete(group=group, actor=actor)
    orphan = GroupLabel.objects.get()
    assert orphan.group is None and orphan.status == GroupLabel.Status.FAILED
    assert labels.organizations_with_due_labels() == [org.pk]  # a deleted group's label is always due
    sim.faults.labels_status = None
    assert sync_group_labels.apply(args=[org.pk]).get()["deleted"] == 1
    assert sim.manual_labels() == {} and not GroupLabel.objects.exists()


# --- the organization's setting -----------------------------------------------------------------------


def test_setting_off_sends_nothing_and_on_again_catches_up(hosts, sim, actor, labels_queue,
                                                          django_capture_on_commit_callbacks):
    org = hosts[0].organization
    with django_capture_on_commit_callbacks(execute=True):
        labels.group_labels_configure(organization=org, enabled=False, actor=actor)
    core_services.group_create(organization=org, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)
    run = sync_now(org, sim)
    assert run.follow_ups[STEP] == {"ok": True, "off": True}
    assert label_calls(sim) == [] and labels_queue == [] and not GroupLabel.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        labels.group_labels_configure(organization=org, enabled=True, actor=actor)
    assert labels_queue == [(org.pk, None)]
    assert sim.manual_labels() == {"Cockpit: Sales": [hosts[0].fleet_host_id]}
    assert AuditEvent.objects.filter(event="fleet_connection.labels_setting_changed").count() == 2


def test_settings_page_shows_and_saves_the_setting(connected, cockpit_client):
    url = reverse("fleet_settings", args=[connected.slug])
    page = cockpit_client.get(url)
    assert b'name="sync_groups_as_labels"' in page.content and b"checked" in page.content
    response = cockpit_client.post(reverse("fleet_label_settings", args=[connected.slug]), {})
    assert response.status_code == 302
    assert FleetConnection.objects.get(organization=connected).sync_groups_as_labels is False
    cockpit_client.post(reverse("fleet_label_settings", args=[connected.slug]), {"sync_groups_as_labels": "on"})
    assert FleetConnection.objects.get(organization=connected).sync_groups_as_labels is True


def test_a_viewer_cannot_change_the_setting_nor_retry(connected, client, django_user_model):
    from core.models import Membership
    from tests.conftest import member

    viewer = member(connected, Membership.Role.VIEWER)
    client.force_login(viewer)
    group = GroupFactory(organization=connected)
    assert client.post(reverse("fleet_label_settings", args=[connected.slug]), {}).status_code == 403
    assert client.post(reverse("group_label_retry", args=[connected.slug, group.pk])).status_code == 403
    assert FleetConnection.objects.get(organization=connected).sync_groups_as_labels is True


# --- tenants ------------------------------------------------------------------------------------------


@pytest.fixture
def other_sim():
    with FleetSimulator(hosts=10, seed=9, token=SIM_TOKEN, now=SIM_NOW) as simulator:
        yield simulator


def test_another_organizations_groups_never_reach_this_fleet(hosts, sim, other_org, other_sim, actor,
                                                            django_capture_on_commit_callbacks):
    org = hosts[0].organization
    fleet_connection_save(organization=other_org, url=other_sim.base_url, token=SIM_TOKEN,
                          actor=Actor.system("tests"), test=False)
    assert sync_now(other_org, other_sim).status == SyncRun.Status.SUCCEEDED
    theirs = GroupFactory(organization=other_org, name="Their secret group")
    their_device = Device.objects.for_org(other_org).filter(fleet_host_id__isnull=False).first()
    their_device.groups.add(theirs)
    ours = core_services.group_create(organization=org, name="Sales", actor=actor)
    set_groups(hosts[0], ["Sales"], actor, django_capture_on_commit_callbacks)

    # A reconcile of this organization asked about the other's group leaves it out.
    assert labels.group_labels_reconcile(organization=org, group_ids=[theirs.pk, ours.pk])["unchanged"] == 1
    sync_now(org, sim)
    assert sim.manual_labels() == {"Cockpit: Sales": [hosts[0].fleet_host_id]}

    sync_now(other_org, other_sim)
    assert other_sim.manual_labels() == {"Cockpit: Their secret group": [their_device.fleet_host_id]}
    assert set(GroupLabel.objects.for_org(org).values_list("group_name", flat=True)) == {"Sales"}
    assert set(GroupLabel.objects.for_org(other_org).values_list("group_name", flat=True)) == {"Their secret group"}


def test_a_group_page_of_another_organization_is_not_found(hosts, other_org, cockpit_client):
    theirs = GroupFactory(organization=other_org)
    org = hosts[0].organization
    assert cockpit_client.post(reverse("group_label_retry", args=[org.slug, theirs.pk])).status_code == 404
