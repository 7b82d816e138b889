"""A pre-assignment's note (why it is a conflict, how it was settled) is written by the services as a phrase: the API
keeps the English text, the cockpit reads it in the reader's language, whoever caused it."""

from html import unescape

import pytest
from django.utils import translation

from assignment import services
from core.models import AuditEvent
from devices import services as device_services
from tests.cockpit.pages import url
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request with ``Accept-Language: fr`` leaves French active in this thread (LocaleMiddleware): not after."""
    yield
    translation.deactivate()


@pytest.fixture
def conflict(org, actor, employee):
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02X"), employee=grace,
                                  actor=actor)
    with translation.override("fr"):
        return services.pre_assignment_create(organization=org, actor=actor, serial_number="C02X", employee=employee)


def test_a_conflicts_note_is_stored_as_its_code_and_read_in_the_readers_language(cockpit_client, api, org, conflict):
    assert conflict.note == "The device is assigned to grace@acme.test."
    assert conflict.note_phrase == {"code": "pre_assignment.device_assigned", "params": {"email": "grace@acme.test"}}
    with translation.override("fr"):
        assert conflict.readable_note == "L’appareil est attribué à grace@acme.test."
    page = unescape(cockpit_client.get(url("preassignment_detail", org, conflict.pk), HTTP_ACCEPT_LANGUAGE="fr")
                    .content.decode())
    assert "L’appareil est attribué à grace@acme.test." in page and "The device is assigned" not in page
    answer = api.get(f"/api/v1/pre-assignments/{conflict.pk}/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert answer["note"] == "The device is assigned to grace@acme.test." and "note_phrase" not in answer
    entry = AuditEvent.objects.for_org(org).get(event="pre_assignment.conflict")
    assert entry.after["note_phrase"]["code"] == "pre_assignment.device_assigned"
    with translation.override("fr"):
        assert entry.sentence.endswith("L’appareil est attribué à grace@acme.test.")


def test_settling_by_keeping_the_owner_says_so_in_the_readers_language(org, actor, conflict):
    with translation.override("fr"):
        pa = services.pre_assignment_settle(pre_assignment=conflict, actor=actor, decision="keep")
    assert (pa.note, pa.note_phrase["code"]) == ("Conflict settled: kept grace@acme.test.",
                                                 "pre_assignment.settled_kept")
    with translation.override("fr"):
        assert pa.readable_note.replace("\u00a0", " ").replace("\u202f", " ") == (
            "Conflit réglé : laissé à grace@acme.test.")
    entry = AuditEvent.objects.for_org(org).get(event="pre_assignment.settled")
    assert entry.after["decision"] == "kept the current owner"
    assert entry.after["decision_phrase"] == {"code": "pre_assignment.decision_kept", "params": {}}


def test_settling_by_assigning_names_the_employee_in_the_decision(org, actor, employee, conflict):
    pa = services.pre_assignment_settle(pre_assignment=conflict, actor=actor, decision="assign")
    assert (pa.status, pa.note_phrase["code"]) == ("applied", "pre_assignment.settled_assigned")
    entry = AuditEvent.objects.for_org(org).get(event="pre_assignment.settled")
    assert entry.after["decision"] == f"assigned to {employee.email}"
    with translation.override("en"):
        assert entry.sentence.endswith(f": assigned to {employee.email}")


def test_an_edit_to_a_new_serial_clears_the_note_and_its_code(org, actor, conflict):
    pa = services.pre_assignment_update(pre_assignment=conflict, actor=actor, serial_number="C02OTHER")
    pa.refresh_from_db()
    assert (pa.status, pa.note, pa.note_phrase) == ("waiting", "", {})
