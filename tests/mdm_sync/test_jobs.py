"""The 30-minute job, the sync-runs API, the cockpit sync page and the dashboard's sync health."""

from datetime import timedelta
from unittest import mock

import pytest
from celery.schedules import crontab
from django.utils import timezone

from cockpit.celery import app
from core.actors import Actor
from core.models import Membership
from devices.models import Device
from mdm_sync import services, tasks
from mdm_sync.models import FleetConnection, SyncRun
from mdm_sync.services import fleet_connection_save
from mdm_sync.simulator import FleetSimulator
from tests.conftest import assert_error, member
from tests.factories import OrganizationFactory

SYSTEM = Actor.system("tests")


def connect(org, url="http://127.0.0.1:9", enabled=True):
    connection = fleet_connection_save(organization=org, url=url, token="t", actor=SYSTEM, test=False)
    FleetConnection.objects.filter(pk=connection.pk).update(enabled=enabled)
    return connection


def run(org, status, minutes_ago, error=""):
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return SyncRun.objects.create(organization=org, trigger="schedule", status=status, started_at=started,
                                  finished_at=started + timedelta(seconds=30), error=error, hosts_listed=10)


def test_beat_runs_the_fleet_sync_every_30_minutes():
    entry = app.conf.beat_schedule["fleet-sync"]
    assert entry["task"] == "mdm_sync.tasks.sync_all_organizations"
    assert entry["schedule"] == crontab(minute="*/30")
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_fan_out_queues_one_task_per_connected_organization(org, other_org):
    connect(org)
    connect(other_org)
    connect(OrganizationFactory(), enabled=False)
    OrganizationFactory()  # not connected
    with mock.patch.object(tasks.sync_organization_task, "delay") as delay:
        assert tasks.sync_all_organizations() == {"queued": 2}
    assert sorted(call.args[0] for call in delay.call_args_list) == sorted([org.pk, other_org.pk])
    assert all(call.args[1] == "schedule" for call in delay.call_args_list)


def test_the_task_runs_a_sync(org):
    with FleetSimulator(hosts=12, seed=2, token="t") as sim:
        connect(org, sim.base_url)
        result = tasks.sync_organization_task(org.pk, "schedule")
    assert result["status"] == "succeeded"
    assert Device.objects.for_org(org).count() > 0
    assert SyncRun.objects.for_org(org).get().trigger == "schedule"


def test_the_task_for_a_deleted_organization_is_a_no_op(db):
    assert tasks.sync_organization_task(987654)["status"] == "gone"


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_the_organizations_runs(api, org, other_org):
    mine = run(org, "succeeded", 5)
    run(other_org, "failed", 5)
    body = api.get("/api/v1/sync-runs/").json()
    assert body["count"] == 1 and body["results"][0]["id"] == mine.pk
    assert set(body["results"][0]) >= {"status", "trigger", "started_at", "finished_at", "created", "updated",
                                       "unchanged", "not_seen", "error"}
    assert api.get("/api/v1/sync-runs/", {"status": "failed"}).json()["count"] == 0


def test_the_queued_sync_is_the_sync_task_by_name():
    """Services queue the task by name (they do not import tasks): the name must be the task's."""
    app.loader.import_default_modules()
    assert tasks.sync_organization_task.name == services.SYNC_TASK and services.SYNC_TASK in app.tasks
    with mock.patch("core.dispatch.current_app") as celery_app:
        celery_app.conf.task_always_eager = False
        services.queue_sync(7, "api", "Ada")
    celery_app.send_task.assert_called_once_with(services.SYNC_TASK, args=[7, "api", "Ada"])


def test_api_post_queues_a_sync_after_commit(api, org, django_capture_on_commit_callbacks):
    connect(org)
    with (mock.patch.object(services, "queue_sync") as queue,
          django_capture_on_commit_callbacks(execute=True)):
        response = api.post("/api/v1/sync-runs/")
    assert response.status_code == 202 and response.json() == {"queued": True}
    queue.assert_called_once()
    assert queue.call_args.args[:2] == (org.pk, "api")


def test_api_post_refuses_an_unconnected_organization_and_a_body(api, org):
    assert_error(api.post("/api/v1/sync-runs/"), 400)
    connect(org)
    assert_error(api.post("/api/v1/sync-runs/", {"force": True}, format="json"), 400, field="force")


def test_api_post_needs_a_write_token(read_api, org):
    connect(org)
    assert read_api.post("/api/v1/sync-runs/").status_code == 403


# --- cockpit -------------------------------------------------------------------------------------


def test_sync_page_lists_runs_and_starts_one(cockpit_client, org, django_capture_on_commit_callbacks):
    connect(org)
    run(org, "failed", 10, error="Fleet did not answer within 30 s")
    page = cockpit_client.get(f"/o/{org.slug}/sync/").content.decode()
    assert "Fleet did not answer" in page and "Sync now" in page
    with (mock.patch.object(services, "queue_sync") as queue,
          django_capture_on_commit_callbacks(execute=True)):
        response = cockpit_client.post(f"/o/{org.slug}/sync/now/")
    assert response.status_code == 302 and queue.call_args.args[1] == "manual"


@pytest.mark.parametrize("role,status", [(Membership.Role.VIEWER, 403), (Membership.Role.TECHNICIAN, 302)])
def test_sync_now_is_for_those_who_act_on_devices(client, org, role, status):
    connect(org)
    client.force_login(member(org, role))
    with mock.patch.object(services, "queue_sync"):
        assert client.post(f"/o/{org.slug}/sync/now/").status_code == status
    assert client.get(f"/o/{org.slug}/sync/").status_code == 200


def test_dashboard_shows_since_when_the_sync_fails(cockpit_client, org):
    connect(org)
    run(org, "succeeded", 120)
    first_failure = run(org, "failed", 90, error="Fleet refused the API token")
    run(org, "failed", 60, error="Fleet refused the API token")
    body = cockpit_client.get(f"/o/{org.slug}/").content.decode()
    assert "Failing" in body and first_failure.started_at.strftime("%Y-%m-%d %H:%M") in body
    assert "refused the API token" in body


def test_dashboard_shows_a_healthy_sync(cockpit_client, org):
    connect(org)
    run(org, "failed", 90)
    run(org, "succeeded", 30)
    assert "Healthy" in cockpit_client.get(f"/o/{org.slug}/").content.decode()


def test_device_page_shows_the_mdm_facts(cockpit_client, org):
    with FleetSimulator(hosts=12, seed=2, token="t") as sim:
        connect(org, sim.base_url)
        tasks.sync_organization_task(org.pk, "manual")
    device = Device.objects.for_org(org).exclude(agent_version="").first()
    body = cockpit_client.get(f"/o/{org.slug}/devices/{device.pk}/").content.decode()
    assert device.agent_version in body and f"#{device.fleet_host_id}" in body and "MDM (Fleet)" in body
