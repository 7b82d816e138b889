"""The organization's Fleet connection: encrypted token, probe before save, the fleet_connect command."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection as db

from core.actors import Actor
from core.crypto import SecretUnreadable, decrypt, encrypt
from core.errors import InvalidInput
from core.models import AuditEvent
from mdm_sync.models import FleetConnection
from mdm_sync.services import fleet_connection_save, fleet_connection_test
from mdm_sync.simulator import FleetSimulator

TOKEN = "sim-secret-token-123"


@pytest.fixture
def simulator():
    with FleetSimulator(hosts=25, seed=3, token=TOKEN) as sim:
        yield sim


def connect(org, sim, **kwargs):
    return fleet_connection_save(organization=org, url=sim.base_url, token=kwargs.pop("token", TOKEN),
                                 actor=Actor.system("tests"), **kwargs)


def test_saving_probes_fleet_and_stores_the_token_encrypted(org, simulator):
    connection = connect(org, simulator)
    assert connection.last_test_ok and "25 hosts" in connection.last_test_message
    with db.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM mdm_sync_fleetconnection")
        stored = cursor.fetchone()[0]
    assert TOKEN not in stored and FleetConnection.objects.get().token == TOKEN
    assert TOKEN not in repr(connection) and TOKEN not in str(connection)


def test_a_wrong_token_saves_nothing_and_says_why(org, simulator):
    with pytest.raises(InvalidInput, match="refused the API token") as error:
        connect(org, simulator, token="wrong")
    assert error.value.field == "token"
    assert not FleetConnection.objects.exists()


def test_a_fleet_that_answers_html_saves_nothing(org, simulator):
    simulator.faults.html_on_all = True
    with pytest.raises(InvalidInput, match="HTML"):
        connect(org, simulator)
    assert not FleetConnection.objects.exists()


def test_saving_again_keeps_one_connection_and_none_keeps_the_token(org, simulator):
    connect(org, simulator)
    connection = fleet_connection_save(organization=org, url=simulator.base_url + "/", token=None,
                                       actor=Actor.system("tests"))
    assert FleetConnection.objects.count() == 1 and connection.token == TOKEN
    assert connection.url == simulator.base_url


def test_the_token_never_reaches_the_audit_log(org, simulator):
    connection = connect(org, simulator)
    fleet_connection_test(connection=connection, actor=Actor.system("tests"))
    for event in AuditEvent.objects.for_org(org):
        assert TOKEN not in str(event.before) + str(event.after) + event.target_label


def test_a_failing_test_is_recorded_on_the_connection(org, simulator):
    connection = connect(org, simulator)
    simulator.faults.status_on_page = {}
    simulator.stop()
    ok, message = fleet_connection_test(connection=connection, actor=Actor.system("tests"))
    connection.refresh_from_db()
    assert not ok and "Cannot reach" in message
    assert connection.last_test_ok is False and connection.last_test_message == message


def test_key_rotation_and_changed_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = encrypt("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # rotation: the new key first, the old still reads
    assert decrypt(stored) == "s3cret"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(SecretUnreadable, match="Enter it again"):
        decrypt(stored)


def test_fleet_connect_command(org, simulator):
    out = StringIO()
    call_command("fleet_connect", org.slug, "--url", simulator.base_url, "--token", TOKEN, stdout=out)
    assert "connected" in out.getvalue() and "25 hosts" in out.getvalue()
    assert FleetConnection.objects.for_org(org).get().url == simulator.base_url


@pytest.mark.parametrize("args,message", [
    (["--url", "not a url", "--token", TOKEN], "not a Fleet URL"),
    (["--token", "wrong"], "refused the API token"),
])
def test_fleet_connect_fails_clearly_and_saves_nothing(org, simulator, args, message):
    if "--url" not in args:
        args = ["--url", simulator.base_url, *args]
    with pytest.raises(CommandError, match=message):
        call_command("fleet_connect", org.slug, *args, stdout=StringIO())
    assert not FleetConnection.objects.exists()


def test_fleet_connect_unknown_org(db):
    with pytest.raises(CommandError, match="No organization"):
        call_command("fleet_connect", "nope", "--url", "http://127.0.0.1:1", "--token", "x", stdout=StringIO())


# --- the cockpit settings page ---------------------------------------------------------------


def test_settings_page_connects_and_never_shows_the_token(cockpit_client, org, simulator):
    url = f"/o/{org.slug}/settings/fleet/"
    assert cockpit_client.get(url).status_code == 200
    response = cockpit_client.post(url, {"url": simulator.base_url, "token": TOKEN, "verify_tls": "on"})
    assert response.status_code == 302
    page = cockpit_client.get(url).content.decode()
    assert "25 hosts" in page and TOKEN not in page and simulator.base_url in page
    # Saving again with an empty token keeps the stored one.
    response = cockpit_client.post(url, {"url": simulator.base_url, "token": "", "verify_tls": "on"})
    assert response.status_code == 302 and FleetConnection.objects.get().token == TOKEN


def test_settings_page_shows_fleets_refusal_and_saves_nothing(cockpit_client, org, simulator):
    response = cockpit_client.post(f"/o/{org.slug}/settings/fleet/", {"url": simulator.base_url, "token": "bad"})
    assert response.status_code == 400
    assert "refused the API token" in response.content.decode()
    assert not FleetConnection.objects.exists()


def test_test_button_records_the_result(cockpit_client, org, simulator):
    connect(org, simulator)
    response = cockpit_client.post(f"/o/{org.slug}/settings/fleet/test/", follow=True)
    assert "25 hosts" in response.content.decode()


@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_only_admins_and_owners_reach_the_fleet_settings(client, org, role):
    from tests.conftest import member

    client.force_login(member(org, role))
    assert client.get(f"/o/{org.slug}/settings/fleet/").status_code == 403
    assert client.post(f"/o/{org.slug}/settings/fleet/test/").status_code == 403
