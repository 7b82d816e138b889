"""Stored sentences (``core.events.Phrase``): a reason a service writes into the audit log is kept as its code and
parameters and read in the reader's language, whoever triggered it and in whatever language; entries written before
keep reading as they were."""

from html import unescape

import pytest
from django.utils import translation

from core.events import PHRASES, Phrase, phrase_text, readable, register_phrases
from core.models import AuditEvent
from devices import handover
from devices import services as device_services
from devices.models import DeviceCommand
from tests.cockpit.pages import url
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db

HELD_EN = "Held in stock until its wipe is confirmed, then goes to Bob Builder"
HELD_FR = "Gardé en stock jusqu'à la confirmation de son effacement, puis remis à Bob Builder"


@pytest.fixture
def held(org, actor, employee):
    """A reassignment held until the wipe, asked by someone whose cockpit speaks French."""
    org.offboarding_hold_until_wipe = True
    org.save()
    bob = EmployeeFactory(organization=org, full_name="Bob Builder", email="bob@acme.test")
    device = device_services.device_assign(device=DeviceFactory(organization=org, fleet_host_id=80),
                                           employee=employee, actor=actor)
    with translation.override("fr"):
        device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True)
    return device


def test_a_services_reason_is_stored_as_its_code_and_read_in_the_readers_language(org, held):
    entry = AuditEvent.objects.for_org(org).for_target(held).get(event="device.returned_to_stock")
    # The text kept for the API and webhooks is in the project's language, not the French of who asked.
    assert entry.after["reason"] == HELD_EN
    assert entry.after["reason_phrase"] == {"code": "devices.held_until_wipe", "params": {"name": "Bob Builder"}}
    with translation.override("fr"):
        assert entry.reason == HELD_FR
    with translation.override("en"):
        assert entry.reason == HELD_EN
    assert held.history.first().reason == HELD_EN  # the history row keeps the same text


def test_the_device_page_shows_the_reason_in_the_readers_language(cockpit_client, org, held):
    french = unescape(cockpit_client.get(url("device_detail", org, held.pk), HTTP_ACCEPT_LANGUAGE="fr")
                      .content.decode())
    assert f"— “{HELD_FR}”" in french and HELD_EN not in french
    english = unescape(cockpit_client.get(url("device_detail", org, held.pk), HTTP_ACCEPT_LANGUAGE="en")
                       .content.decode())
    assert f"— “{HELD_EN}”" in english


def test_the_hand_over_after_the_wipe_says_so_in_the_readers_language(org, actor, held):
    handover.command_hand_over(command=DeviceCommand.objects.get(device=held), actor=actor)
    entry = AuditEvent.objects.for_org(org).for_target(held).filter(event="device.assigned").first()
    assert entry.after["reason_phrase"]["code"] == "devices.handed_over"
    with translation.override("fr"):
        assert entry.reason == "Effacement confirmé : remis à Bob Builder"


def test_a_persons_note_comes_first_and_stays_as_typed(org, actor, employee):
    org.offboarding_hold_until_wipe = True
    org.save()
    device = device_services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    bob = EmployeeFactory(organization=org, full_name="Bob Builder")
    device_services.device_reassign(device=device, employee=bob, actor=actor, wipe=True, reason="Ticket 42")
    entry = AuditEvent.objects.for_org(org).for_target(device).get(event="device.returned_to_stock")
    assert entry.after["reason"] == f"Ticket 42: {HELD_EN}"
    with translation.override("fr"):
        assert entry.reason.startswith("Ticket 42") and entry.reason.endswith(HELD_FR)


def test_entries_written_before_read_as_they_were(org, actor):
    device = DeviceFactory(organization=org)
    old = AuditEvent.objects.create(organization=org, actor_type="system", actor_label="Sync", event="device.archived",
                                    target_type="devices.device", target_id=str(device.pk),
                                    after={"reason": "Offboarding of Ada Lovelace"})
    gone = AuditEvent.objects.create(organization=org, actor_type="system", actor_label="Sync", event="device.archived",
                                     target_type="devices.device", target_id=str(device.pk),
                                     after={"reason": "Kept text", "reason_phrase": {"code": "no.such_code"}})
    with translation.override("fr"):
        assert old.reason == "Offboarding of Ada Lovelace"
        assert gone.reason == "Kept text"  # a code no app registers any more: the text kept beside it
    assert AuditEvent(after={}).reason == ""


def test_a_phrase_inside_an_audit_sentence_follows_the_reader(org):
    entry = AuditEvent(organization=org, actor_label="Okta", event="scim.user_reactivation_refused",
                       target_label="Ada", after={"why": "stored English",
                                                  "why_phrase": Phrase("scim.refused_admin_offboarding",
                                                                       {"case": 7}).as_json()})
    with translation.override("fr"):
        sentence = entry.sentence.replace("\u00a0", " ").replace("\u202f", " ")  # French spaces before : and ;
    assert sentence == ("Okta a demandé via SCIM de réactiver Ada : un administrateur a engagé son départ (n° 7) ; "
                        "annulez-le dans le cockpit pour le garder")
    assert readable(entry.after) == {
        "why": "an admin started their offboarding (#7); cancel it in the cockpit to keep them"}


def test_phrase_codes_are_registered_once():
    with pytest.raises(ValueError, match="Unknown phrase code"):
        Phrase("nobody.registered_this")
    with pytest.raises(ValueError, match="registered twice"):
        register_phrases({"devices.handed_over": "Something else"})
    assert "devices.handed_over" in PHRASES
    # A parameter missing reads as a dash rather than failing the page.
    assert phrase_text({"code": "devices.handed_over", "params": {}}) == "Wipe confirmed: handed over to —"
