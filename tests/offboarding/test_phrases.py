"""An offboarding's cancel reason and a decision's note, when a service writes them, are kept as their code beside the
English text the API gives, and the cockpit reads them in the reader's language; a person's reason stays as typed."""

from html import unescape

import pytest
from django.utils import translation

from core.audit import Phrase
from devices import services as device_services
from devices.models import Device, DeviceCommand
from mdm_sync.commands import commands_confirm_from_sync
from offboarding import services
from offboarding.models import OffboardingDevice
from tests.cockpit.pages import url
from tests.factories import EmployeeFactory
from tests.offboarding.conftest import hand

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request with ``Accept-Language: fr`` leaves French active in this thread (LocaleMiddleware): not after."""
    yield
    translation.deactivate()


def test_a_services_cancel_reason_is_read_in_the_readers_language(cockpit_client, api, org, actor, leaver):
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    with translation.override("fr"):  # whoever cancels speaks French: the stored text is still English
        services.offboarding_cancel(offboarding=case, actor=actor, reason=Phrase("scim.reactivated"))
    case.refresh_from_db()
    assert case.cancel_reason == "Reactivated by the identity provider (SCIM)"
    assert case.cancel_reason_phrase == {"code": "scim.reactivated", "params": {}}
    with translation.override("fr"):
        assert case.readable_cancel_reason == "Réactivé par le fournisseur d'identité (SCIM)"
    page = unescape(cockpit_client.get(url("offboarding_detail", org, case.pk), HTTP_ACCEPT_LANGUAGE="fr")
                    .content.decode())
    assert ": Réactivé par le fournisseur d'identité (SCIM)" in page
    answer = api.get(f"/api/v1/offboardings/{case.pk}/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert answer["cancel_reason"] == "Reactivated by the identity provider (SCIM)"
    assert "cancel_reason_phrase" not in answer


def test_a_persons_cancel_reason_stays_as_typed(org, actor, leaver):
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    services.offboarding_cancel(offboarding=case, actor=actor, reason="Changed their mind")
    case.refresh_from_db()
    assert (case.cancel_reason, case.cancel_reason_phrase) == ("Changed their mind", {})
    with translation.override("fr"):
        assert case.readable_cancel_reason == "Changed their mind"


def test_a_hand_over_refused_keeps_its_code_on_the_command_and_the_decision(org, actor, leaver, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    carol = EmployeeFactory(organization=org, full_name="Carol")
    [held] = hand(org, leaver, actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor,
                                      decisions=[{"device": held.pk, "action": "reassign", "reassign_to": bob.pk}])
    services.offboarding_complete(offboarding=case, actor=actor)
    device_services.device_assign(device=held, employee=carol, actor=actor)
    DeviceCommand.objects.filter(device=held).update(status=DeviceCommand.Status.SENT)
    Device.objects.filter(pk=held.pk).update(mdm_device_status="wiped")
    with translation.override("fr"):
        commands_confirm_from_sync(organization=org)
    command = DeviceCommand.objects.get(device=held)
    decision = case.decisions.get(device=held)
    english = f"{held} was assigned to Carol meanwhile; not handed over."
    assert decision.status == OffboardingDevice.Status.HOLD_FAILED
    assert command.hand_over_note == decision.note == english
    assert command.hand_over_note_phrase == decision.note_phrase == {
        "code": "devices.assigned_meanwhile", "params": {"device": str(held), "other": "Carol"}}
    with translation.override("en"):
        assert command.readable_hand_over_note == decision.readable_note == english
    # A note a writer that does not know the code replaced: the text wins over the older phrase.
    OffboardingDevice.objects.filter(pk=decision.pk).update(note="Handled by phone")
    decision.refresh_from_db()
    with translation.override("fr"):
        assert decision.readable_note == "Handled by phone"


def test_the_not_handed_over_phrase_reads_in_french():
    note = Phrase("devices.not_handed_over", {"reason": "Employé parti."})
    with translation.override("fr"):
        assert str(note).replace("\u00a0", " ").replace("\u202f", " ") == "Non remis : Employé parti."
    assert note.stored_text() == "Not handed over: Employé parti."  # the refusal keeps its own wording
