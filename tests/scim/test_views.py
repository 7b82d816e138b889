"""The cockpit's SCIM page: base URL, SCIM tokens, the deactivation setting and recent activity."""

import pytest
from django.urls import reverse

from core.models import ApiToken, AuditEvent, Membership
from scim.models import ScimSettings
from tests.conftest import member
from tests.scim.conftest import ScimClient, user_body
from tests.scim.idp_requests import OKTA_DEACTIVATE


@pytest.fixture
def url(org):
    return reverse("scim_settings", kwargs={"org_slug": org.slug})


def test_the_page_shows_the_base_url_and_the_settings(cockpit_client, url):
    response = cockpit_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="http://testserver/scim/v2"' in page
    assert 'value="draft" required id="id_deactivation_0" checked' in page  # the default: a draft
    assert reverse("scim_settings", kwargs={"org_slug": "acme"}) in page  # the Settings menu links to it


def test_the_base_url_follows_cockpit_base_url(cockpit_client, url, settings):
    settings.COCKPIT_BASE_URL = "https://cockpit.example.test/"
    assert 'value="https://cockpit.example.test/scim/v2"' in cockpit_client.get(url).content.decode()


def test_an_admin_creates_a_write_token_shown_once(cockpit_client, url, org, client):
    response = cockpit_client.post(url, {"action": "token", "name": "Okta"})
    assert response.status_code == 200
    token = ApiToken.objects.for_org(org).get(name="Okta")
    assert token.scope == ApiToken.Scope.WRITE
    key = response.context["new_key"]
    assert key.startswith("fcp_") and key in response.content.decode()
    assert key not in cockpit_client.get(url).content.decode()  # never again
    assert ScimClient(client, key).post("/Users", user_body("ada@acme.test"))[0] == 201


def test_an_empty_token_name_is_refused(cockpit_client, url, org):
    response = cockpit_client.post(url, {"action": "token", "name": ""})
    assert response.status_code == 400
    assert not ApiToken.objects.for_org(org).exists()


def test_an_admin_sets_the_deactivation_and_it_is_audited(cockpit_client, url, org):
    response = cockpit_client.post(url, {"action": "settings", "deactivation": "schedule", "schedule_after_days": 5})
    assert response.status_code == 302
    saved = ScimSettings.objects.for_org(org).get()
    assert (saved.deactivation, saved.schedule_after_days) == ("schedule", 5)
    entry = AuditEvent.objects.for_org(org).get(event="scim.settings_updated")
    assert entry.before == {"deactivation": "draft", "schedule_after_days": 7}
    assert entry.after == {"deactivation": "schedule", "schedule_after_days": 5}


@pytest.mark.parametrize("days", ["0", "91", "soon"])
def test_a_bad_delay_is_refused_and_changes_nothing(cockpit_client, url, org, days):
    response = cockpit_client.post(url, {"action": "settings", "deactivation": "schedule", "schedule_after_days": days})
    assert response.status_code == 400
    assert not ScimSettings.objects.for_org(org).exists()


def test_recent_activity_lists_what_scim_did(cockpit_client, url, scim):
    user_id = scim.post("/Users", user_body("ada@acme.test", displayName="Ada Lovelace"))[1]["id"]
    scim.patch(f"/Users/{user_id}", OKTA_DEACTIVATE)
    page = cockpit_client.get(url).content.decode()
    assert "added the employee Ada Lovelace" in page
    assert "deactivated Ada Lovelace through SCIM" in page


@pytest.mark.parametrize("role", [Membership.Role.TECHNICIAN, Membership.Role.VIEWER])
def test_only_owners_and_admins_reach_it(client, org, url, role):
    client.force_login(member(org, role))
    assert client.get(url).status_code == 403
    assert client.post(url, {"action": "token", "name": "Sneaky"}).status_code == 403
    assert not ApiToken.objects.for_org(org).exists()
