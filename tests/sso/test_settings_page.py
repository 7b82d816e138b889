"""The organization's single sign-on page: who may open it, what it shows, how saving checks the issuer by
discovery, the write-only secret (stored encrypted, never shown nor audited), and "Check the issuer"."""

import pytest
from django.db import IntegrityError, transaction

from core.models import AuditEvent, Membership
from sso.models import SsoConfig
from tests.conftest import member
from tests.sso.conftest import SECRET, closed_port_url

pytestmark = pytest.mark.django_db

URL = "/o/acme/settings/sso/"


@pytest.fixture
def admin_client(client, org):
    client.force_login(member(org, Membership.Role.ADMIN))
    return client


def form_data(peer, **changes):
    return {"action": "save", "issuer": peer.issuer, "client_id": "cockpit", "client_secret": SECRET,
            "enabled": "on", "jit_role": "viewer"} | changes


@pytest.mark.parametrize("role", [Membership.Role.VIEWER, Membership.Role.TECHNICIAN])
def test_only_owners_and_admins_open_the_page(client, org, role):
    client.force_login(member(org, role))

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"action": "save"}).status_code == 403
    assert not SsoConfig.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, org):
    assert client.get(URL)["Location"].startswith("/login/")


def test_the_page_shows_the_redirect_uri_and_the_direct_link(admin_client, settings):
    settings.COCKPIT_BASE_URL = "https://cockpit.example.com"

    page = admin_client.get(URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert "https://cockpit.example.com/sso/acme/callback/" in html
    assert "https://cockpit.example.com/sso/acme/login/" in html
    assert 'href="/o/acme/settings/sso/"' in html  # in the Settings menu


def test_saving_checks_the_issuer_and_stores_the_secret_encrypted(admin_client, org, oidc_peer):
    response = admin_client.post(URL, form_data(oidc_peer, sso_required="on", jit_enabled="on",
                                                jit_role="technician"))

    assert response.status_code == 302, response.content.decode()[:2000]
    config = SsoConfig.objects.get(organization=org)
    assert (config.issuer, config.client_id, config.enabled, config.sso_required, config.jit_enabled,
            config.jit_role) == (oidc_peer.issuer, "cockpit", True, True, True, "technician")
    assert SECRET not in config.client_secret_encrypted and config.client_secret == SECRET
    entry = AuditEvent.objects.for_org(org).get(event="sso.settings_updated")
    assert entry.after["client_secret"] == "changed" and SECRET not in str(entry.after) + str(entry.before)
    page = admin_client.get(URL).content.decode()
    assert SECRET not in page and "A client secret is stored" in page


def test_an_empty_secret_keeps_the_stored_one(admin_client, org, oidc_peer):
    admin_client.post(URL, form_data(oidc_peer))

    response = admin_client.post(URL, form_data(oidc_peer, client_secret="", client_id="cockpit-other"))

    assert response.status_code == 302
    config = SsoConfig.objects.get(organization=org)
    assert (config.client_id, config.client_secret) == ("cockpit-other", SECRET)
    latest = AuditEvent.objects.for_org(org).filter(event="sso.settings_updated").latest("pk")
    assert latest.after == {"client_id": "cockpit-other"} and latest.before == {"client_id": "cockpit"}


def test_a_trailing_slash_on_the_issuer_is_forgiven(admin_client, org, oidc_peer):
    assert admin_client.post(URL, form_data(oidc_peer, issuer=oidc_peer.issuer + "/")).status_code == 302
    assert SsoConfig.objects.get(organization=org).issuer == oidc_peer.issuer


def test_an_unreachable_issuer_is_a_form_error(admin_client, org):
    response = admin_client.post(URL, {"action": "save", "issuer": closed_port_url(), "client_id": "cockpit",
                                       "client_secret": SECRET, "jit_role": "viewer"})

    assert response.status_code == 400
    assert "discovery document could not be fetched" in response.content.decode()
    assert not SsoConfig.objects.exists() and not AuditEvent.objects.filter(event="sso.settings_updated").exists()


def test_an_address_that_is_not_an_openid_provider_is_a_form_error(admin_client, org, oidc_peer):
    response = admin_client.post(URL, form_data(oidc_peer, issuer=oidc_peer.issuer + "/somewhere-else"))

    assert response.status_code == 400
    assert not SsoConfig.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"jit_role": "owner"}, "jit_role"),
    ({"enabled": "", "sso_required": "on"}, "sso_required"),
    ({"client_secret": ""}, "client_secret"),
    ({"client_id": ""}, "client_id"),
    ({"issuer": "not a url"}, "issuer"),
])
def test_invalid_settings_are_refused_and_change_nothing(admin_client, org, oidc_peer, changes, field):
    response = admin_client.post(URL, form_data(oidc_peer, **changes))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not SsoConfig.objects.exists()


def test_check_the_issuer_shows_the_discovery(admin_client, org, oidc_peer):
    response = admin_client.post(URL, {"action": "check", "issuer": oidc_peer.issuer, "client_id": "typed"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "OpenID provider found" in html and f"{oidc_peer.issuer}/token" in html
    assert 'value="typed"' in html  # what was typed stays in the form
    assert not SsoConfig.objects.exists()


def test_check_the_issuer_says_what_is_wrong(admin_client, org):
    response = admin_client.post(URL, {"action": "check", "issuer": closed_port_url()})

    assert response.status_code == 400
    assert "could not be fetched" in response.content.decode()


def test_the_database_refuses_an_owner_as_the_just_in_time_role(org):
    config = SsoConfig(organization=org, issuer="https://idp.example", client_id="cockpit", jit_role="owner")

    with pytest.raises(IntegrityError), transaction.atomic():
        config.save()


def test_the_secret_never_shows_in_a_repr(org):
    config = SsoConfig(organization=org, issuer="https://idp.example", client_id="cockpit")
    config.client_secret = SECRET

    assert SECRET not in repr(config) and SECRET not in str(config)
