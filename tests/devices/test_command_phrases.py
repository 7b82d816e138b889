"""A command's failure: our framing is a phrase, read in the reader's language, Fleet's own message stays verbatim;
the API's ``wipe.error`` keeps the English text."""

from html import unescape

import pytest
from django.utils import translation

from devices import services as device_services
from devices.models import MAX_COMMAND_ATTEMPTS, DeviceCommand
from mdm_sync.commands import commands_send_due
from mdm_sync.fleet import FleetUnavailable
from tests.cockpit.pages import url
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request with ``Accept-Language: fr`` leaves French active in this thread (LocaleMiddleware): not after."""
    yield
    translation.deactivate()


class DownFleet:
    def wipe(self, host_id):
        raise FleetUnavailable("Fleet kept failing on POST /wipe: HTTP 503")


def _wipe_asked(org, actor, employee, **fields):
    device = device_services.device_assign(device=DeviceFactory(organization=org, **fields), employee=employee,
                                           actor=actor)
    return device_services.device_return_to_stock(device=device, actor=actor, wipe=True)


def test_giving_up_frames_fleets_message_in_the_readers_language(cockpit_client, api, org, actor, employee):
    device = _wipe_asked(org, actor, employee, fleet_host_id=4243)
    DeviceCommand.objects.update(attempts=MAX_COMMAND_ATTEMPTS - 1)
    with translation.override("fr"):  # whoever runs it: the stored text is English
        assert commands_send_due(organization=org, client=DownFleet())["failed"] == 1
    wipe = DeviceCommand.objects.get()
    fleets = "Fleet kept failing on POST /wipe: HTTP 503"
    assert wipe.last_error == f"Gave up after {MAX_COMMAND_ATTEMPTS} attempts: {fleets}"
    assert wipe.last_error_phrase == {"code": "devices.command_gave_up",
                                      "params": {"attempts": MAX_COMMAND_ATTEMPTS, "error": fleets}}
    with translation.override("fr"):
        french = wipe.readable_last_error.replace("\u00a0", " ").replace("\u202f", " ")
    assert french == f"Abandon après {MAX_COMMAND_ATTEMPTS} tentatives : {fleets}"
    page = unescape(cockpit_client.get(url("device_detail", org, device.pk), HTTP_ACCEPT_LANGUAGE="fr")
                    .content.decode()).replace("\u00a0", " ").replace("\u202f", " ")
    assert french in page
    assert api.get(f"/api/v1/devices/{device.pk}/").json()["wipe"]["error"] == wipe.last_error


def test_a_device_unknown_to_fleet_fails_with_our_sentence_as_a_code(org, actor, employee):
    _wipe_asked(org, actor, employee, fleet_host_id=None)
    commands_send_due(organization=org)
    wipe = DeviceCommand.objects.get()
    assert wipe.status == DeviceCommand.Status.FAILED
    assert wipe.last_error == "This device is not known to Fleet (no host id): do it by hand."
    assert wipe.last_error_phrase == {"code": "mdm_sync.no_host_id", "params": {}}


def test_a_retry_later_keeps_fleets_message_alone(org, actor, employee):
    _wipe_asked(org, actor, employee, fleet_host_id=4243)
    assert commands_send_due(organization=org, client=DownFleet())["retrying"] == 1
    wipe = DeviceCommand.objects.get()
    assert (wipe.last_error, wipe.last_error_phrase) == ("Fleet kept failing on POST /wipe: HTTP 503", {})
    with translation.override("fr"):
        assert wipe.readable_last_error == "Fleet kept failing on POST /wipe: HTTP 503"
