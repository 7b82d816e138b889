"""“SSO required”: an organization that requires single sign-on refuses its members' password sign-in, except its
owners' (the break-glass path when the identity provider is down), which is recorded."""

import pytest

from core.actors import Actor
from core.models import AuditEvent, Membership
from sso.services import sso_config_save
from tests.conftest import PASSWORD, member
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example"  # never contacted: the password sign-in only reads the stored settings


def require_sso(organization, *, required=True, enabled=True):
    return sso_config_save(organization=organization, actor=Actor.system("tests"), issuer=ISSUER, client_id="cockpit",
                           client_secret="s3cret", enabled=enabled, sso_required=required)


def password_sign_in(client, user):
    return client.post("/login/", {"username": user.username, "password": PASSWORD})


def test_a_member_of_an_organization_requiring_sso_cannot_use_a_password(client, org):
    require_sso(org)
    admin = member(org, Membership.Role.ADMIN)

    response = password_sign_in(client, admin)

    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Acme requires single sign-on" in response.content.decode()
    assert "“acme”" in response.content.decode()
    entry = AuditEvent.objects.for_org(org).get(event="auth.password_refused_sso_required")
    assert entry.target_id == str(admin.pk)
    assert not AuditEvent.objects.filter(event="auth.break_glass_sign_in").exists()


def test_an_owner_keeps_password_sign_in_and_it_is_audited(client, org):
    require_sso(org)
    owner = member(org, Membership.Role.OWNER)

    response = password_sign_in(client, owner)

    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == owner.pk
    entry = AuditEvent.objects.for_org(org).get(event="auth.break_glass_sign_in")
    assert (entry.target_id, entry.source) == (str(owner.pk), "sso")


def test_the_owner_of_one_organization_is_refused_when_another_requires_sso_of_them(client, org):
    require_sso(org)
    other = OrganizationFactory(slug="globex", name="Globex")
    require_sso(other)
    user = member(org, Membership.Role.OWNER)
    Membership.objects.create(user=user, organization=other, role=Membership.Role.TECHNICIAN)

    response = password_sign_in(client, user)

    assert "_auth_user_id" not in client.session
    assert "Globex requires single sign-on" in response.content.decode()


def test_sso_enabled_but_not_required_leaves_passwords_alone(client, org):
    require_sso(org, required=False)
    admin = member(org, Membership.Role.ADMIN)

    assert password_sign_in(client, admin).status_code == 302
    assert not AuditEvent.objects.filter(event__in=["auth.break_glass_sign_in",
                                                    "auth.password_refused_sso_required"]).exists()


def test_a_disabled_configuration_requires_nothing(client, org):
    require_sso(org, required=False, enabled=False)
    config = org.sso_config
    config.sso_required = True  # a state the service refuses; the check still reads "enabled and required"
    config.save()

    assert password_sign_in(client, member(org, Membership.Role.VIEWER)).status_code == 302


def test_a_wrong_password_says_nothing_about_sso(client, org):
    require_sso(org)
    admin = member(org, Membership.Role.ADMIN)

    response = client.post("/login/", {"username": admin.username, "password": "wrong"})

    assert "single sign-on" not in response.content.decode().split("sso-link")[0].lower()
    assert not AuditEvent.objects.filter(event="auth.password_refused_sso_required").exists()


def test_the_login_page_links_to_single_sign_on(client):
    page = client.get("/login/").content.decode()

    assert 'href="/sso/"' in page and "Sign in with single sign-on" in page
    start = client.get("/sso/")
    assert start.status_code == 200 and 'name="organization"' in start.content.decode()
    assert client.get("/sso/", {"organization": "acme"})["Location"] == "/sso/acme/login/"
    assert client.get("/sso/", {"organization": "not a slug!"}).status_code == 400
