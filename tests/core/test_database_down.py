"""PostgreSQL restarted in the middle of a request (issue #12 §6), with a real broken connection: a second
connection terminates this test's own backend (``pg_terminate_backend``), which is what a restart does to every
open connection. The request answers a clean 503 in the one error shape (the cockpit: a plain 503 page), nothing
is half-written, and the next request connects again and works."""

import psycopg
import pytest
from django.db import connection
from django.test import Client

from core.models import AuditEvent
from devices import services as device_services
from devices.models import Device, DeviceHistory
from tests.conftest import api_client_for, token_key
from tests.factories import DeviceFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="terminates a PostgreSQL backend"),
    pytest.mark.django_db(transaction=True),
]

REAL_AUDIT = device_services.audit_record


def terminate_this_backend() -> None:
    """From a second connection, as a restart would: the test's connection is cut mid-transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
                         host=settings["HOST"] or None, port=settings["PORT"] or None, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


def test_the_database_cut_mid_request_is_a_clean_503_and_nothing_is_half_written(org, monkeypatch):
    api = api_client_for(token_key(org, "write"))
    device = DeviceFactory(organization=org, name="before")
    history, audit = DeviceHistory.objects.count(), AuditEvent.objects.count()

    def cut_then_audit(**kwargs):
        # The device row is updated in this transaction; the connection goes before its audit entry is written.
        terminate_this_backend()
        return REAL_AUDIT(**kwargs)

    monkeypatch.setattr(device_services, "audit_record", cut_then_audit)
    response = api.patch(f"/api/v1/devices/{device.pk}/", {"name": "after"}, format="json")
    monkeypatch.undo()

    assert response.status_code == 503, response.content
    body = response.json()
    assert set(body) == {"status", "code", "detail", "fields"}
    assert (body["status"], body["code"]) == (503, "unavailable") and "nothing was changed" in body["detail"]
    assert response["Retry-After"]
    # The next request connects again and works; the cut one left nothing behind.
    again = api.get(f"/api/v1/devices/{device.pk}/")
    assert again.status_code == 200 and again.json()["name"] == "before"
    assert Device.objects.get(pk=device.pk).name == "before"
    assert (DeviceHistory.objects.count(), AuditEvent.objects.count()) == (history, audit)
    assert api.patch(f"/api/v1/devices/{device.pk}/", {"name": "after"}, format="json").status_code == 200


def test_a_connection_cut_between_requests_answers_503_then_reconnects(org):
    """Django's test client keeps the connection between requests (a server checks it first, CONN_HEALTH_CHECKS,
    and reconnects at once): the first request after the cut finds it broken and answers 503, the next works."""
    api = api_client_for(token_key(org, "read"))
    DeviceFactory(organization=org, name="kept")
    terminate_this_backend()
    response = api.get("/api/v1/devices/")
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    listed = api.get("/api/v1/devices/")
    assert listed.status_code == 200 and [row["name"] for row in listed.json()["results"]] == ["kept"]


def test_the_cockpit_shows_a_503_page_then_works_again(admin_user, org):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    DeviceFactory(organization=org, name="kept")
    terminate_this_backend()
    response = client.get(f"/o/{org.slug}/devices/")
    assert response.status_code == 503 and response["Retry-After"]
    page = response.content.decode()
    assert "cannot reach its database" in page and "Nothing was changed" in page and "Traceback" not in page
    again = client.get(f"/o/{org.slug}/devices/")
    assert again.status_code == 200 and "kept" in again.content.decode()
