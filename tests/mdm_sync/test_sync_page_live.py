"""The Sync page follows a run without a reload (issue #14 §2): htmx polls its live part while a run is in progress
or a sync asked for has not started, and stops once nothing is going on."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from mdm_sync import services
from mdm_sync.models import SyncRun
from mdm_sync.selectors import SYNC_WAIT_SECONDS, sync_live
from tests.factories import OrganizationFactory
from tests.mdm_sync.test_jobs import connect, run

POLL = 'hx-trigger="every 2s"'


def polling_url(page: str) -> str | None:
    found = re.search(r'id="sync-live" hx-get="([^"]+)"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_sync_now_leads_to_a_page_that_watches_for_the_run(cockpit_client, org, django_capture_on_commit_callbacks):
    connect(org)
    with (mock.patch.object(services, "queue_sync"), django_capture_on_commit_callbacks(execute=True)):
        response = cockpit_client.post(f"/o/{org.slug}/sync/now/")
    assert response.status_code == 302 and "?since=" in response["Location"]

    page = cockpit_client.get(response["Location"]).content.decode()
    assert POLL in page and "Waiting for a worker to start the sync." in page
    url = polling_url(page)
    assert url.startswith(f"/o/{org.slug}/sync/?part=live&since=")

    # The worker starts the run: the live part says so and keeps watching.
    running = SyncRun.objects.create(organization=org, trigger="manual", started_at=timezone.now())
    live = cockpit_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert live.startswith("<div id=\"sync-live\"") and "<html" not in live
    assert POLL in live and "A sync is running" in live

    # It ends: the fresh part shows the outcome and carries no trigger, so the polling stops.
    SyncRun.objects.filter(pk=running.pk).update(status="succeeded", finished_at=timezone.now(), hosts_listed=42)
    live = cockpit_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert POLL not in live and "syncrun-succeeded" in live and "42" in live


def test_a_quiet_page_does_not_poll(cockpit_client, org):
    connect(org)
    run(org, "succeeded", 10)
    page = cockpit_client.get(f"/o/{org.slug}/sync/").content.decode()
    assert POLL not in page and 'id="sync-live"' in page
    # a "since" from long ago, or that is not a number, watches nothing
    assert POLL not in cockpit_client.get(f"/o/{org.slug}/sync/?since=1").content.decode()
    assert cockpit_client.get(f"/o/{org.slug}/sync/?since=tomorrow").status_code == 200


def test_a_running_run_is_watched_on_the_first_page_only(cockpit_client, org):
    connect(org)
    for minutes in range(30):
        run(org, "succeeded", 60 + minutes)
    SyncRun.objects.create(organization=org, trigger="schedule", started_at=timezone.now())
    assert POLL in cockpit_client.get(f"/o/{org.slug}/sync/").content.decode()
    assert POLL not in cockpit_client.get(f"/o/{org.slug}/sync/?page=2").content.decode()


@pytest.mark.django_db
def test_sync_live_is_scoped_to_the_organization_and_bounded_in_time():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    now = timezone.now()
    SyncRun.objects.create(organization=globex, trigger="manual", started_at=now)
    assert sync_live(organization=acme, since=None, now=now).running is None
    assert sync_live(organization=acme, since=now - timedelta(seconds=5), now=now).waiting  # globex's run is not ours
    too_old = now - timedelta(seconds=SYNC_WAIT_SECONDS + 1)
    assert not sync_live(organization=acme, since=too_old, now=now).active
