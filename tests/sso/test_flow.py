"""The sign-in through the organization's identity provider, against a real OpenID provider (the peer): who gets
in, the session pinned to the organization, and what is recorded."""

from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from django.contrib.auth import get_user_model

from core.auth import SESSION_SSO_ORGANIZATION
from core.models import AuditEvent, Membership
from tests.conftest import member
from tests.factories import OrganizationFactory
from tests.sso.conftest import configure
from tests.sso.idp import sso_sign_in, start

pytestmark = pytest.mark.django_db


def refused_reason(response) -> str:
    return response.context["reason"]


def test_a_member_is_signed_in_to_the_dashboard_pinned_to_the_organization(client, sso_org):
    user = member(sso_org, Membership.Role.ADMIN, email="Ada.Lovelace@Acme.test")

    response = sso_sign_in(client, "acme", "ada.lovelace@acme.test")  # the e-mail matches whatever its case

    assert response.status_code == 302 and response["Location"] == "/o/acme/"
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.session[SESSION_SSO_ORGANIZATION] == sso_org.pk
    assert client.get("/o/acme/").status_code == 200
    entry = AuditEvent.objects.for_org(sso_org).get(event="auth.sso_login")
    assert (entry.target_id, entry.source, entry.after["email"]) == (str(user.pk), "sso", "ada.lovelace@acme.test")


def test_the_authorization_request_uses_pkce_s256_state_and_nonce(client, sso_org):
    query = parse_qs(urlsplit(start(client, "acme")["Location"]).query)

    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"] == ["openid email profile"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/sso/acme/callback/"]


def test_a_session_started_by_sso_sees_only_that_organization(client, sso_org):
    user = member(sso_org, Membership.Role.ADMIN, email="ada@acme.test")
    other = OrganizationFactory(slug="globex", name="Globex")
    Membership.objects.create(user=user, organization=other, role=Membership.Role.OWNER)

    sso_sign_in(client, "acme", "ada@acme.test")

    assert client.get("/o/globex/").status_code == 404  # a member there, but not in this session
    page = client.get("/o/acme/")
    assert [m.organization.slug for m in page.context["user_memberships"]] == ["acme"]
    assert client.get("/")["Location"] == "/o/acme/"  # home goes straight to the one organization
    client.logout()
    client.force_login(user)  # a session of the same user not started by single sign-on sees both
    assert client.get("/o/globex/").status_code == 200


def test_jit_creates_a_viewer_with_no_usable_password(client, org, oidc_peer, callback_base):
    configure(org, oidc_peer, jit_enabled=True)

    response = sso_sign_in(client, "acme", "new.person@acme.test")

    assert response.status_code == 302 and response["Location"] == "/o/acme/"
    user = get_user_model().objects.get(email="new.person@acme.test")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user, organization=org).role == Membership.Role.VIEWER
    created = AuditEvent.objects.for_org(org).get(event="membership.created", target_id=str(user.pk))
    assert (created.source, created.after["role"]) == ("sso", "viewer")
    assert AuditEvent.objects.for_org(org).filter(event="auth.sso_login", target_id=str(user.pk)).exists()


def test_jit_gives_the_configured_role(client, org, oidc_peer, callback_base):
    configure(org, oidc_peer, jit_enabled=True, jit_role="technician")

    sso_sign_in(client, "acme", "tech@acme.test")

    assert Membership.objects.get(user__email="tech@acme.test").role == Membership.Role.TECHNICIAN


def test_no_membership_and_jit_off_is_refused(client, sso_org):
    response = sso_sign_in(client, "acme", "stranger@acme.test")

    assert response.status_code == 403 and refused_reason(response) == "not_a_member"
    assert b"not a member of this organization" in response.content
    assert not get_user_model().objects.filter(email="stranger@acme.test").exists()
    assert "_auth_user_id" not in client.session
    refused = AuditEvent.objects.for_org(sso_org).get(event="auth.sso_refused")
    assert refused.after["reason"] == "not_a_member" and refused.after["email"] == "stranger@acme.test"


def test_another_organizations_member_is_refused_even_with_jit(client, org, oidc_peer, callback_base):
    configure(org, oidc_peer, jit_enabled=True)
    other = OrganizationFactory(slug="globex", name="Globex")
    outsider = member(other, Membership.Role.OWNER, email="boss@globex.test")

    response = sso_sign_in(client, "acme", "BOSS@globex.test")

    assert response.status_code == 403 and refused_reason(response) == "other_organization"
    assert not Membership.objects.filter(user=outsider, organization=org).exists()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.for_org(org).get(event="auth.sso_refused").after["reason"] == "other_organization"


def test_an_account_in_no_organization_joins_just_in_time(client, org, oidc_peer, callback_base):
    configure(org, oidc_peer, jit_enabled=True)
    orphan = get_user_model().objects.create_user("orphan", email="orphan@acme.test", password="x")

    assert sso_sign_in(client, "acme", "orphan@acme.test").status_code == 302

    assert Membership.objects.get(user=orphan, organization=org).role == Membership.Role.VIEWER


def test_a_platform_operators_account_never_joins_just_in_time(client, org, oidc_peer, callback_base):
    configure(org, oidc_peer, jit_enabled=True)
    get_user_model().objects.create_superuser("root", email="root@acme.test", password="x")

    response = sso_sign_in(client, "acme", "root@acme.test")

    assert response.status_code == 403 and refused_reason(response) == "not_a_member"
    assert not Membership.objects.filter(organization=org, user__username="root").exists()


def test_a_deactivated_member_is_refused(client, sso_org):
    user = member(sso_org, Membership.Role.ADMIN, email="gone@acme.test", is_active=False)

    response = sso_sign_in(client, "acme", "gone@acme.test")

    assert response.status_code == 403 and refused_reason(response) == "account_disabled"
    assert AuditEvent.objects.for_org(sso_org).get(event="auth.sso_refused").target_id == str(user.pk)


def test_entra_ids_verified_domain_claim_stands_for_email_verified(client, sso_org):
    """Microsoft Entra ID sends no ``email_verified``; its optional claim ``xms_edov`` says the tenant verified the
    address's domain: true signs in, false is refused like an unverified e-mail."""
    member(sso_org, Membership.Role.ADMIN, email="ada@acme.test")

    refused = sso_sign_in(client, "acme", "entra-unverified:ada@acme.test")
    assert refused.status_code == 403 and refused_reason(refused) == "email_unverified"

    response = sso_sign_in(client, "acme", "entra:ada@acme.test")
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_an_unverified_email_is_refused(client, sso_org):
    member(sso_org, Membership.Role.ADMIN, email="ada@acme.test")

    response = sso_sign_in(client, "acme", "unverified:ada@acme.test")

    assert response.status_code == 403 and refused_reason(response) == "email_unverified"
    assert b"not verified" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_ins_reuse_the_checked_discovery_document(client, sso_org, monkeypatch):
    """The provider's discovery document is fetched once, then cached for sign-ins (the settings page's "Check the
    issuer" always fetches it afresh)."""
    member(sso_org, Membership.Role.ADMIN, email="ada@acme.test")
    fetched = []
    request = OAuth2Session.request

    def counting(self, method, url, *args, **kwargs):
        fetched.append(url)
        return request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(OAuth2Session, "request", counting)
    for _ in range(2):
        assert sso_sign_in(client, "acme", "ada@acme.test").status_code == 302
        client.logout()
    assert sum(url.endswith("/.well-known/openid-configuration") for url in fetched) == 1
