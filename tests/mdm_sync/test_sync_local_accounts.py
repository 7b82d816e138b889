"""The sync keeps the people's local accounts of each host: stored and updated through both writers,
part of the digest, shown on the device page."""

import pytest
from django.db import connection

from core.actors import Actor
from devices.models import Device
from mdm_sync import sync_apply
from mdm_sync.fleet import FleetHost, LocalUser
from mdm_sync.health import HealthPolicy
from mdm_sync.services import fleet_connection_save
from mdm_sync.simulator import employee_username
from mdm_sync.sync_listing import host_facts
from mdm_sync.sync_writers import OrmWriter
from tests.conftest import SIM_NOW, SIM_TOKEN, sync_now


def user(username, uid=None, shell=""):
    return LocalUser(username=username, uid=uid, type="", shell=shell)


def device_of(org, host_id):
    return Device.objects.for_org(org).get(fleet_host_id=host_id)


def owner_host(sim):
    """A healthy Mac, and its owner's directory user name."""
    for host_id in sim.ids_in_situation("healthy"):
        host = sim.host_json(host_id)
        if host["platform"] == "darwin":
            username = host["end_users"][0]["idp_username"].split("@")[0]
            assert username in {employee_username(n, sim.email_domain) for n in range(1, sim.employee_count + 1)}
            return host_id, username
    raise AssertionError("no healthy Mac")


def test_the_sync_stores_people_accounts_and_updates_them(connected, sim):
    host_id, username = owner_host(sim)
    run = sync_now(connected, sim)
    assert run.status == "succeeded", run.error
    assert any("populate_users=true" in path for method, path in sim.requests_log if "/hosts?" in path)
    device = device_of(connected, host_id)
    assert device.local_accounts == [username]
    assert all(not d.local_accounts for d in Device.objects.for_org(connected).filter(platform="ios"))

    users = sim.host_json(host_id)["users"] + [
        {"uid": 502, "username": "grace.hopper", "type": "", "groupname": "staff", "shell": "/bin/zsh"},
        {"uid": 250, "username": "_newservice", "type": "", "groupname": "staff", "shell": "/usr/bin/false"},
    ]
    sim.update_host(host_id, users=users)
    run = sync_now(connected, sim)
    assert (run.updated, run.created) == (1, 0)  # the account list is in the digest: only this host changed
    device.refresh_from_db()
    assert device.local_accounts == sorted([username, "grace.hopper"])
    assert sync_now(connected, sim).updated == 0

    sim.update_host(host_id, users=[u for u in users if u["username"] != "grace.hopper"] + [
        {"uid": 251, "username": "_another", "type": "", "groupname": "staff", "shell": "/usr/bin/false"}])
    run = sync_now(connected, sim)  # grace.hopper gone; the system account that came is not kept
    assert run.updated == 1
    device.refresh_from_db()
    assert device.local_accounts == [username]


def test_the_digest_follows_the_people_accounts_only():
    policy = HealthPolicy()

    def facts(*users):
        host = FleetHost(id=1, platform="darwin", hostname="mbp", local_users=tuple(users))
        return host_facts(host, policy=policy, now=SIM_NOW, previously_enrolled=False)

    base = facts(user("ada", 501), user("root", 0))
    assert base.accounts == ("ada",)
    assert facts(user("root", 0), user("ada", 501)).digest == base.digest  # order is not a change
    assert facts(user("ada", 501), user("root", 0), user("_svc", 80)).digest == base.digest  # nor a system account
    assert facts(user("ada", 501), user("bob", 502)).digest != base.digest
    assert facts().digest != base.digest


@pytest.mark.parametrize("writer", ["copy", "orm"])
def test_both_writers_store_and_update_the_accounts(connected, sim, monkeypatch, writer):
    """Creation and update through the ``COPY``/staging writer (PostgreSQL) and through the ORM writer."""
    if writer == "copy" and connection.vendor != "postgresql":
        pytest.skip("the COPY writer needs PostgreSQL")
    if writer == "orm":
        monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    host_id, username = owner_host(sim)
    sync_now(connected, sim)  # created: insert
    assert device_of(connected, host_id).local_accounts == [username]
    sim.update_host(host_id, users=[{"uid": 501, "username": "Zoë", "type": "", "groupname": "staff",
                                     "shell": "/bin/zsh"}])
    assert sync_now(connected, sim).updated == 1  # updated: staging table (COPY) or bulk_update (ORM)
    assert device_of(connected, host_id).local_accounts == ["Zoë"]
    sim.update_host(host_id, users=[])
    sync_now(connected, sim)
    assert device_of(connected, host_id).local_accounts == []


def test_both_writers_agree_on_accounts(connected, other_org, sim, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer")
    fleet_connection_save(organization=other_org, url=sim.base_url, token=SIM_TOKEN, actor=Actor.system("t"),
                          test=False)
    host_id, _ = owner_host(sim)
    sync_now(connected, sim)
    sync_now(other_org, sim)
    sim.update_host(host_id, users=[{"uid": 501, "username": "ada", "shell": "/bin/zsh"},
                                    {"uid": 502, "username": "bob", "shell": "/bin/zsh"}])
    sync_now(connected, sim)
    monkeypatch.setattr(sync_apply, "CopyWriter", lambda run: OrmWriter())
    sync_now(other_org, sim)
    rows = [dict(Device.objects.for_org(org).values_list("fleet_host_id", "local_accounts")) for org in
            (connected, other_org)]
    assert rows[0] == rows[1] and rows[0][host_id] == ["ada", "bob"]


def test_the_device_page_shows_the_accounts(connected, sim, cockpit_client):
    host_id, username = owner_host(sim)
    sync_now(connected, sim)
    device = device_of(connected, host_id)
    page = cockpit_client.get(f"/o/{connected.slug}/devices/{device.pk}/").content.decode()
    assert "Local accounts" in page and f"<dd>{username}</dd>" in page
    Device.objects.filter(pk=device.pk).update(local_accounts=["ada", "<b>kiosk</b>"])
    page = cockpit_client.get(f"/o/{connected.slug}/devices/{device.pk}/").content.decode()
    assert "<dd>ada, &lt;b&gt;kiosk&lt;/b&gt;</dd>" in page
