"""An organization's requirement (``/o/<slug>/settings/mfa/``), the pages it guards, and an owner's reset."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.auth import SESSION_SSO_ORGANIZATION
from core.models import AuditEvent, Membership
from mfa.selectors import has_mfa, mfa_required
from tests.conftest import api_client_for, member, token_key
from tests.factories import MembershipFactory
from tests.mfa.conftest import code_for, enrol, password_login, sign_in_with_code
from tests.mfa.factories import MfaPolicyFactory


def settings_url(org):
    return f"/o/{org.slug}/settings/mfa/"


def reset_url(org, membership):
    return f"/o/{org.slug}/settings/mfa/members/{membership.pk}/reset/"


def seat(user, org):
    return Membership.objects.get(user=user, organization=org)


# --- the setting -------------------------------------------------------------------------------------------------


def test_an_owner_requires_it_once_they_have_it_themselves(client, org):
    owner = member(org, Membership.Role.OWNER)
    client.force_login(owner)
    response = client.post(settings_url(org), {"required_for_admins": "on"})
    assert response.status_code == 400
    assert "for your own account first" in response.content.decode() and not mfa_required(organization=org)
    device, _codes = enrol(owner)
    response = client.post(settings_url(org), {"required_for_admins": "on"})
    assert response.status_code == 302 and mfa_required(organization=org)
    # From now on this session, which typed no code, is asked for one before the organization's pages.
    assert client.post(settings_url(org), {})["Location"].startswith("/login/verify/")
    assert mfa_required(organization=org)
    sign_in_with_code(client, owner, device)
    changed = AuditEvent.objects.get(event="mfa.policy_changed")
    assert (changed.organization, changed.before, changed.after) == (org, {"required": False}, {"required": True})
    client.post(settings_url(org), {"required_for_admins": "on"})  # unchanged: not recorded again
    assert AuditEvent.objects.filter(event="mfa.policy_changed").count() == 1
    client.post(settings_url(org), {})
    assert not mfa_required(organization=org)
    assert AuditEvent.objects.filter(event="mfa.policy_changed").count() == 2


def test_the_page_lists_owners_and_admins_with_their_status(client, org, other_org):
    owner = member(org, Membership.Role.OWNER, username="olivia")
    admin = member(org, Membership.Role.ADMIN, username="adam")
    member(org, Membership.Role.TECHNICIAN, username="tess")
    technician_with_mfa = member(org, Membership.Role.TECHNICIAN, username="theo")
    member(other_org, Membership.Role.ADMIN, username="outsider")
    enrol(owner)
    enrol(technician_with_mfa)
    client.force_login(owner)
    page = client.get(settings_url(org)).content.decode()
    table = page.split('id="mfa-members"', 1)[1]
    assert "olivia" in table and "adam" in table and "theo" in table
    assert "tess" not in table and "outsider" not in table
    assert table.index("olivia") < table.index("adam")  # owners first
    adam_row = table.split(f'id="mfa-member-{seat(admin, org).pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Not set up" in adam_row
    theo_row = table.split(f'id="mfa-member-{seat(technician_with_mfa, org).pk}"', 1)[1].split("</tr>", 1)[0]
    assert "On" in theo_row and ">10<" in theo_row and "Reset" in theo_row


@pytest.mark.parametrize("role", [Membership.Role.TECHNICIAN, Membership.Role.VIEWER])
def test_other_roles_cannot_see_or_change_the_setting(client, org, role):
    client.force_login(member(org, role))
    assert client.get(settings_url(org)).status_code == 403
    assert client.post(settings_url(org), {"required_for_admins": "on"}).status_code == 403
    assert not mfa_required(organization=org)


def test_the_settings_menu_links_to_the_page(client, org):
    client.force_login(member(org, Membership.Role.ADMIN))
    page = client.get(f"/o/{org.slug}/").content.decode()
    assert f'href="{settings_url(org)}"' in page and 'href="/account/security/"' in page


# --- the pages it guards ---------------------------------------------------------------------------------------


@pytest.fixture
def required(org):
    MfaPolicyFactory(organization=org)
    return org


def test_an_admin_without_a_second_factor_is_sent_to_set_one_up(client, required):
    org = required
    admin = member(org, Membership.Role.ADMIN)
    password_login(client, admin)
    response = client.get(f"/o/{org.slug}/devices/?status=x")
    assert response.status_code == 302
    assert response["Location"] == "/account/security/?next=%2Fo%2Facme%2Fdevices%2F%3Fstatus%3Dx"
    page = client.get(response["Location"]).content.decode()
    assert "requires two-factor authentication" in page
    client.post("/account/security/", {"action": "start"})
    response = client.post("/account/security/?next=/o/acme/devices/",
                           {"action": "confirm", "code": code_for(TOTPDevice.objects.get(user=admin))})
    assert 'id="mfa-continue"' in response.content.decode() and 'href="/o/acme/devices/"' in response.content.decode()
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200  # the enrolment confirmed this session


def test_a_session_that_confirmed_no_code_is_asked_for_one(client, required):
    org = required
    admin = member(org, Membership.Role.OWNER)
    device, _codes = enrol(admin)
    client.force_login(admin)  # a session that never typed a code (e.g. from before the requirement)
    response = client.get(f"/o/{org.slug}/devices/")
    assert response.status_code == 302 and response["Location"] == "/login/verify/?next=%2Fo%2Facme%2Fdevices%2F"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "This organization requires" in page.content.decode()
    response = client.post("/login/verify/?next=/o/acme/devices/", {"code": code_for(device)})
    assert response.status_code == 302 and response["Location"] == "/o/acme/devices/"
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200
    assert AuditEvent.objects.filter(event="mfa.verified", organization=org).count() == 1


def test_a_password_sign_in_with_the_code_goes_straight_through(client, required):
    org = required
    admin = member(org, Membership.Role.ADMIN)
    device, _codes = enrol(admin)
    password_login(client, admin)
    client.post("/login/verify/", {"code": code_for(device)})
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200


def test_technicians_and_viewers_are_not_concerned(client, required):
    org = required
    for role in (Membership.Role.TECHNICIAN, Membership.Role.VIEWER):
        client.force_login(member(org, role))
        assert client.get(f"/o/{org.slug}/devices/").status_code == 200


def test_another_organizations_pages_and_the_users_own_pages_are_not_guarded(client, required, other_org):
    org = required
    admin = member(org, Membership.Role.ADMIN)
    MembershipFactory(organization=other_org, user=admin, role=Membership.Role.ADMIN)
    client.force_login(admin)
    assert client.get(f"/o/{other_org.slug}/devices/").status_code == 200  # Globex requires nothing
    assert client.get("/account/security/").status_code == 200
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302


def test_a_single_sign_on_session_is_exempt(client, required):
    org = required
    admin = member(org, Membership.Role.ADMIN)
    client.force_login(admin)
    session = client.session
    session[SESSION_SSO_ORGANIZATION] = org.pk  # as the sso app sets it when the identity provider signed them in
    session.save()
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200


def test_the_api_is_not_affected(required):
    api = api_client_for(token_key(required, "read"))
    assert api.get("/api/v1/devices/").status_code == 200


# --- an owner's reset --------------------------------------------------------------------------------------------


def test_an_owner_resets_a_members_second_factor_after_confirming(client, org, other_org):
    owner = member(org, Membership.Role.OWNER)
    admin = member(org, Membership.Role.ADMIN, username="lost-phone")
    MembershipFactory(organization=other_org, user=admin, role=Membership.Role.VIEWER)
    enrol(admin)
    client.force_login(owner)
    page = client.get(reset_url(org, seat(admin, org)))
    assert page.status_code == 200 and "lost-phone" in page.content.decode() and has_mfa(user=admin)
    response = client.post(reset_url(org, seat(admin, org)))
    assert response.status_code == 302 and response["Location"] == settings_url(org)
    assert not has_mfa(user=admin) and not TOTPDevice.objects.filter(user=admin).exists()
    entries = AuditEvent.objects.filter(event="mfa.reset")
    assert {entry.organization for entry in entries} == {org, other_org}  # the member's organizations
    assert all(e.actor_user == owner and e.target_id == str(admin.pk) for e in entries)
    again = client.post(reset_url(org, seat(admin, org)), follow=True)
    assert "no two-factor authentication to reset" in again.content.decode()


def test_after_a_reset_the_member_sets_it_up_again_where_it_is_required(client, required):
    org = required
    owner = member(org, Membership.Role.OWNER)
    admin = member(org, Membership.Role.ADMIN)
    owner_device, _codes = enrol(owner)
    device, _codes = enrol(admin)
    other_browser = client.__class__()
    sign_in_with_code(other_browser, admin, device)
    assert other_browser.get(f"/o/{org.slug}/devices/").status_code == 200
    sign_in_with_code(client, owner, owner_device)
    client.post(reset_url(org, seat(admin, org)))
    # The admin's confirmed session no longer counts: its device is gone.
    assert other_browser.get(f"/o/{org.slug}/devices/")["Location"].startswith("/account/security/")
    client.logout()
    response = password_login(client, admin)
    assert response["Location"] == "/"  # a password alone signs in, then the organization asks for a second factor
    assert client.get(f"/o/{org.slug}/devices/")["Location"].startswith("/account/security/")


def test_only_owners_reset_and_not_their_own(client, org, other_org):
    owner = member(org, Membership.Role.OWNER)
    admin = member(org, Membership.Role.ADMIN)
    enrol(owner)
    enrol(admin)
    client.force_login(admin)
    assert client.get(reset_url(org, seat(owner, org))).status_code == 403
    assert client.post(reset_url(org, seat(owner, org))).status_code == 403
    assert has_mfa(user=owner)
    client.force_login(owner)
    response = client.post(reset_url(org, seat(owner, org)), follow=True)
    assert "your security page" in response.content.decode() and has_mfa(user=owner)
    outsider = member(other_org, Membership.Role.ADMIN)
    enrol(outsider)
    outsider_seat = seat(outsider, other_org)
    assert client.post(reset_url(org, outsider_seat)).status_code == 404  # not a member of this organization
    assert has_mfa(user=outsider) and not AuditEvent.objects.filter(event="mfa.reset").exists()
