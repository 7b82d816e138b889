"""A device's history keeps a service's reason as its code (``reason_phrase``) beside the English text the API gives:
the cockpit reads it in the reader's language; rows written before read as they were. The timeline names why a
change happened with the source's label, not its code."""

from html import unescape

import pytest
from django.utils import translation

from assignment import services as assignment_services
from core.events import Phrase, register_sources, source_label
from core.models import AuditEvent
from devices import services as device_services
from devices.models import DeviceHistory
from enrollment.autoassign import _assign
from tests.cockpit.pages import url
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request with ``Accept-Language: fr`` leaves French active in this thread (LocaleMiddleware): not after."""
    yield
    translation.deactivate()

SETTLED_EN = "Pre-assignment conflict settled by {label}"
SETTLED_FR = "Conflit de pré-attribution réglé par {label}"


@pytest.fixture
def settled(org, actor, employee):
    """A pre-assignment conflict a French-speaking admin settles by assigning: the move's reason is the service's."""
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    device = device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02X"),
                                           employee=grace, actor=actor)
    pa = assignment_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02X",
                                                   employee=employee)
    assert pa.status == "conflict"
    with translation.override("fr"):
        assignment_services.pre_assignment_settle(pre_assignment=pa, actor=actor, decision="assign")
    device.refresh_from_db()
    return device


def test_a_services_reason_is_kept_as_its_code_in_the_history_and_read_in_the_readers_language(settled, actor):
    row = settled.history.first()
    assert row.reason == SETTLED_EN.format(label=actor.label)  # the project's language, not the asker's French
    assert row.reason_phrase == {"code": "pre_assignment.conflict_settled", "params": {"label": actor.label}}
    with translation.override("fr"):
        assert row.readable_reason == SETTLED_FR.format(label=actor.label)
    with translation.override("en"):
        assert row.readable_reason == SETTLED_EN.format(label=actor.label)


def test_the_api_history_keeps_the_plain_english_reason(api, org, settled, actor):
    response = api.get(f"/api/v1/devices/{settled.pk}/history/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    latest = response.json()["results"][0]
    assert latest["reason"] == SETTLED_EN.format(label=actor.label) and "reason_phrase" not in latest


def test_a_persons_note_is_kept_as_typed_and_without_a_code(org, actor, employee):
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor,
                                           reason="Ticket 42")
    row = device.history.first()
    assert (row.reason, row.reason_phrase) == ("Ticket 42", {})
    with translation.override("fr"):
        assert row.readable_reason == "Ticket 42"


def test_rows_written_before_read_as_they_were(org, employee):
    device = DeviceFactory(organization=org)
    old = DeviceHistory.objects.create(organization=org, device=device, action="assigned", source="manual",
                                       actor_label="Sync", reason="Offboarding of Ada Lovelace")
    gone = DeviceHistory.objects.create(organization=org, device=device, action="assigned", source="manual",
                                        actor_label="Sync", reason="Kept text", reason_phrase={"code": "no.such"})
    with translation.override("fr"):
        assert old.readable_reason == "Offboarding of Ada Lovelace"
        assert gone.readable_reason == "Kept text"


def test_an_automatic_assignment_stores_its_reason_as_a_code_in_bulk(org, actor, employee):
    devices = [DeviceFactory(organization=org) for _ in range(3)]
    assert _assign(org, [(device, employee) for device in devices], {}, actor) == 3
    rows = DeviceHistory.objects.filter(device__in=devices, action="assigned")
    assert {(row.reason, row.reason_phrase["code"]) for row in rows} == {
        ("Installer and SSO e-mails name the same employee", "enrollment.same_employee")}
    entries = AuditEvent.objects.for_org(org).filter(event="device.assigned", target_id__in=[d.pk for d in devices])
    with translation.override("fr"):
        assert {row.readable_reason for row in rows} == {entry.reason for entry in entries} == {
            "Les e-mails de l’installeur et du SSO désignent le même employé"}


def test_a_csv_import_line_is_a_phrase_with_its_import_and_line(org, actor, employee):
    reason = Phrase("csv_import.line", {"id": 12, "line": 4})
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor,
                                           reason=reason)
    row = device.history.first()
    assert (row.reason, row.reason_phrase) == ("CSV import #12, line 4",
                                               {"code": "csv_import.line", "params": {"id": 12, "line": 4}})


def test_the_timeline_names_the_source_with_its_label_in_the_readers_language(cockpit_client, org, settled):
    page = url("device_detail", org, settled.pk)
    french = unescape(cockpit_client.get(page, HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    assert "· Pré-attribution" in french and "· pre_assignment" not in french
    english = unescape(cockpit_client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "· Pre-assignment" in english
    audit = unescape(cockpit_client.get(url("audit_list", org), HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    assert "<td>Pré-attribution</td>" in audit and "<td>pre_assignment</td>" not in audit


def test_sources_beyond_the_core_are_registered_once_and_unknown_ones_read_as_their_code():
    assert str(source_label("scim")) == "SCIM"  # registered by the SCIM app
    assert source_label("somewhere_else") == "somewhere_else"
    with pytest.raises(ValueError, match="registered twice"):
        register_sources({"scim": "Something else"})
    assert AuditEvent(source="").source_label == ""
