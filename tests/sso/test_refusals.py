"""Every refusal of the callback, each provoked for real: a misbehaving provider (the peer re-signs the ID token of
some clients with its own key, so only one claim is wrong), a tampered or replayed answer, a cancelled sign-in, a
provider that cannot be reached. Each answers a clear page with its status, signs nobody in, and is audited."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from core.models import AuditEvent, Membership
from sso.models import SsoConfig
from tests.conftest import member
from tests.factories import OrganizationFactory
from tests.sso.conftest import closed_port_url, configure
from tests.sso.idp import back_to_cockpit, idp_sign_in, sso_sign_in, start

pytestmark = pytest.mark.django_db


def assert_refused(response, client, organization, *, status: int, reason: str, audited: bool = True):
    """Refused with its page; audited, unless the answer belongs to no sign-in started in this browser (anyone can
    send one: it is logged, never written to the organization's audit log)."""
    assert response.status_code == status, response.content[:800]
    assert response.context["reason"] == reason
    assert b"Single sign-on did not sign you in" in response.content and b"What to do" in response.content
    assert "_auth_user_id" not in client.session
    if organization is not None and not audited:
        assert not AuditEvent.objects.for_org(organization).filter(event="auth.sso_refused").exists()
    elif organization is not None:
        entry = AuditEvent.objects.for_org(organization).filter(event="auth.sso_refused").latest("pk")
        assert entry.after["reason"] == reason and entry.source == "sso"
        assert entry.actor_type == "system"


@pytest.fixture
def ada(org):
    return member(org, Membership.Role.ADMIN, email="ada@acme.test")


@pytest.mark.parametrize(("client_id", "reason"), [
    ("cockpit-wrong-aud", "wrong_audience"),
    ("cockpit-expired", "token_expired"),
    ("cockpit-wrong-iss", "wrong_issuer"),
    ("cockpit-bad-nonce", "nonce_mismatch"),
    ("cockpit-bad-signature", "invalid_token"),
])
def test_an_id_token_failing_a_check_is_refused(client, org, ada, oidc_peer, callback_base, client_id, reason):
    configure(org, oidc_peer, client_id=client_id)

    response = sso_sign_in(client, "acme", "ada@acme.test")

    assert_refused(response, client, org, status=403, reason=reason)


def test_a_wrong_client_secret_is_refused_by_the_provider(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer, secret="not-the-secret")

    response = sso_sign_in(client, "acme", "ada@acme.test")

    assert_refused(response, client, org, status=502, reason="token_refused")
    assert b"invalid_client" in response.content


def test_cancelling_at_the_provider_is_refused_with_its_error(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)

    response = sso_sign_in(client, "acme", "ada@acme.test", cancel=True)

    assert_refused(response, client, org, status=403, reason="idp_error")
    assert b"access_denied" in response.content


def _callback(client, slug="acme", login="ada@acme.test"):
    """A real callback URL from the provider for a sign-in started by ``client``."""
    return idp_sign_in(start(client, slug)["Location"], login)


def _with(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    query = {key: value for key, value in query.items() if value is not None}
    return parts._replace(query=urlencode(query)).geturl()


def test_a_tampered_state_is_refused(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)

    response = back_to_cockpit(client, _with(_callback(client), state="forged"))

    assert_refused(response, client, org, status=400, reason="bad_state", audited=False)


def test_a_missing_state_is_refused(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)

    response = back_to_cockpit(client, _with(_callback(client), state=None))

    assert_refused(response, client, org, status=400, reason="bad_state", audited=False)


def test_an_answer_is_used_once(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)
    callback = _callback(client)
    assert back_to_cockpit(client, callback).status_code == 302
    client.logout()

    response = back_to_cockpit(client, callback)

    assert_refused(response, client, org, status=400, reason="bad_state", audited=False)


def test_an_answer_from_another_browser_is_refused(client, org, ada, oidc_peer, callback_base):
    """Login CSRF: an attacker's own valid answer, replayed in the victim's browser, has no state there."""
    configure(org, oidc_peer)
    attacker = Client()

    response = back_to_cockpit(client, _callback(attacker))

    assert_refused(response, client, org, status=400, reason="bad_state", audited=False)


def test_a_sign_in_started_for_another_organization_is_refused(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)
    other = OrganizationFactory(slug="globex", name="Globex")
    configure(other, oidc_peer)
    callback = _callback(client, slug="acme")

    response = back_to_cockpit(client, callback.replace("/sso/acme/", "/sso/globex/"))

    assert_refused(response, client, other, status=400, reason="bad_state", audited=False)


def test_an_answer_naming_another_issuer_is_refused(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)

    response = back_to_cockpit(client, _with(_callback(client), iss="https://evil.example"))

    assert_refused(response, client, org, status=403, reason="wrong_issuer")


def test_pkce_is_enforced_by_the_provider(client, org, ada, oidc_peer, callback_base):
    """The code alone is worthless: without the verifier kept in this session, the provider refuses to exchange it."""
    configure(org, oidc_peer)
    callback = _callback(client)
    session = client.session
    for key, value in session.items():
        if key.startswith("_state_sso-"):
            value["data"]["code_verifier"] = "x" * 64
            session[key] = value
    session.save()

    response = back_to_cockpit(client, callback)

    assert_refused(response, client, org, status=502, reason="token_refused")
    assert b"invalid_grant" in response.content


def test_an_unreachable_provider_is_refused_with_502(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)
    SsoConfig.objects.filter(organization=org).update(issuer=closed_port_url())

    response = start(client, "acme")

    assert_refused(response, client, org, status=502, reason="idp_unreachable")


def test_an_organization_without_sso_answers_404_and_records_nothing(client, org):
    response = start(client, "acme")

    assert_refused(response, client, None, status=404, reason="not_configured")
    assert client.get("/sso/no-such-org/login/").status_code == 404
    assert not AuditEvent.objects.filter(event="auth.sso_refused").exists()


def test_disabled_sso_is_refused_at_the_start_and_at_the_callback(client, org, ada, oidc_peer, callback_base):
    configure(org, oidc_peer)
    callback = _callback(client)
    configure(org, oidc_peer, enabled=False)

    assert_refused(start(client, "acme"), client, org, status=404, reason="not_configured")
    assert_refused(back_to_cockpit(client, callback), client, org, status=404, reason="not_configured")


def test_refusals_audited_per_address_are_capped(client, org, ada, oidc_peer, callback_base, settings):
    """Each refused sign-in started in this browser is audited, up to ``SSO_REFUSALS_AUDITED`` per client address in
    its window: nobody fills an organization's audit log by starting sign-ins and answering them wrongly."""
    settings.SSO_REFUSALS_AUDITED = (2, 300)
    configure(org, oidc_peer)
    for _ in range(3):
        callback = _with(_callback(client), iss="http://elsewhere.test")
        assert back_to_cockpit(client, callback).status_code == 403
    assert AuditEvent.objects.for_org(org).filter(event="auth.sso_refused").count() == 2
