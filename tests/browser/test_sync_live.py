"""The Sync page in a real browser: "Sync now", then the run appears, runs and ends without a reload."""

import pytest
from django.utils import timezone

from core.actors import Actor
from mdm_sync import services
from mdm_sync.models import SyncRun
from mdm_sync.services import fleet_connection_save
from tests.browser.accounts import cockpit_user, sign_in
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_sync_shows_up_and_finishes_without_a_reload(live_server, page, monkeypatch):
    monkeypatch.setattr(services, "queue_sync", lambda *args, **kwargs: None)  # no worker: the test plays it below
    org = OrganizationFactory(slug="acme", name="Acme")
    fleet_connection_save(organization=org, url="http://127.0.0.1:9", token="t", actor=Actor.system("tests"),
                          test=False)
    cockpit_user(org)
    base = live_server.url
    sign_in(page, base, lands_on=f"/o/{org.slug}/")

    page.goto(f"{base}/o/{org.slug}/sync/")
    page.click("form.actions button[type=submit]")
    page.wait_for_selector(".sync-live-status")
    assert "Waiting for a worker" in page.inner_text("#sync-live")
    page.evaluate("window.notReloaded = true")

    run = SyncRun.objects.create(organization=org, trigger="manual", started_at=timezone.now())
    page.wait_for_function("document.querySelector('#sync-live').innerText.includes('A sync is running')")
    SyncRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now(), hosts_listed=42)
    page.wait_for_selector("#sync-runs tr.syncrun-succeeded")
    assert page.query_selector(".sync-live-status") is None  # nothing going on: the polling stopped
    assert page.evaluate("window.notReloaded") is True  # swapped in place, never reloaded
