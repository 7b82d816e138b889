"""The second step of a password sign-in: nothing is signed in until a code is accepted at ``/login/verify/``."""

import pytest

from core.models import AuditEvent, Membership
from mfa.sign_in import PENDING_KEY, PENDING_SECONDS
from tests.conftest import member
from tests.factories import MembershipFactory, UserFactory
from tests.mfa.conftest import code_for, enrol, password_login, replayed_code


def verify(client, code, **extra):
    return client.post("/login/verify/", {"code": code}, **extra)


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_a_user_without_a_second_factor_signs_in_with_the_password_alone(client, org):
    user = member(org)
    response = password_login(client, user)
    assert response.status_code == 302 and response["Location"] == "/"
    assert int(signed_in_as(client)) == user.pk


def test_the_password_of_a_user_with_a_second_factor_signs_nobody_in_until_the_code(client, org, enrolled):
    user, device, _codes = enrolled
    response = password_login(client, user)
    assert response.status_code == 302 and response["Location"] == "/login/verify/"
    assert signed_in_as(client) is None
    assert client.get(f"/o/{org.slug}/devices/").status_code == 302  # still signed out
    page = client.get("/login/verify/")
    assert page.status_code == 200 and user.username in page.content.decode()

    pending_session = client.cookies["sessionid"].value
    response = verify(client, code_for(device))
    assert response.status_code == 302 and response["Location"] == "/"
    assert int(signed_in_as(client)) == user.pk
    assert client.cookies["sessionid"].value != pending_session  # a new session key once signed in
    assert PENDING_KEY not in client.session
    assert client.session["otp_device_id"] == device.persistent_id  # the session confirmed its second factor
    assert client.get(f"/o/{org.slug}/devices/").status_code == 200
    entries = AuditEvent.objects.filter(event="mfa.verified", target_id=str(user.pk))
    assert [entry.organization for entry in entries] == [org]


def test_next_is_kept_through_the_second_step(client, org, enrolled):
    user, device, _codes = enrolled
    password_login(client, user, next_url=f"/o/{org.slug}/devices/")
    response = verify(client, code_for(device))
    assert response["Location"] == f"/o/{org.slug}/devices/"


def test_an_offsite_next_is_not_followed(client, org, enrolled):
    user, device, _codes = enrolled
    password_login(client, user, next_url="https://evil.test/")
    assert verify(client, code_for(device))["Location"] == "/"


def test_a_wrong_code_is_refused_and_audited_in_each_organization(client, org, other_org, enrolled):
    user, device, _codes = enrolled
    MembershipFactory(organization=other_org, user=user, role=Membership.Role.VIEWER)
    password_login(client, user)
    right = code_for(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = verify(client, wrong)
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert signed_in_as(client) is None
    failed = AuditEvent.objects.filter(event="mfa.verification_failed", target_id=str(user.pk))
    assert {entry.organization for entry in failed} == {org, other_org}
    assert failed.first().after["address"] == "127.0.0.1"
    assert verify(client, code_for(device)).status_code == 302  # then the right one


def test_a_code_is_accepted_once(client, org, enrolled):
    user, device, _codes = enrolled
    password_login(client, user)
    assert verify(client, code_for(device)).status_code == 302
    client.logout()
    password_login(client, user)
    response = verify(client, replayed_code(device))  # the very code that was just accepted
    assert response.status_code == 400 and signed_in_as(client) is None
    assert verify(client, code_for(device)).status_code == 302  # the app's next code works


def test_a_recovery_code_signs_in_once(client, org, enrolled):
    user, _device, codes = enrolled
    password_login(client, user)
    response = verify(client, codes[0].upper().replace("-", " "))  # typed with spaces, in capitals
    assert response.status_code == 302 and int(signed_in_as(client)) == user.pk
    used = AuditEvent.objects.get(event="mfa.recovery_code_used", organization=org)
    assert used.after == {"remaining": 9}
    client.logout()
    password_login(client, user)
    response = verify(client, codes[0])
    assert response.status_code == 400 and "used already" in response.content.decode()
    assert verify(client, codes[1]).status_code == 302


def test_the_pending_step_expires_after_five_minutes(client, org, enrolled):
    user, device, _codes = enrolled
    password_login(client, user)
    session = client.session
    session[PENDING_KEY] = session[PENDING_KEY] | {"at": session[PENDING_KEY]["at"] - PENDING_SECONDS - 1}
    session.save()
    response = verify(client, code_for(device))
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert signed_in_as(client) is None and PENDING_KEY not in client.session
    assert client.get("/login/verify/")["Location"] == "/login/"  # nothing pending any more


def test_without_a_pending_sign_in_the_step_sends_to_the_password(client, org):
    response = client.get("/login/verify/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert verify(client, "123456")["Location"] == "/login/"


def test_a_user_deactivated_meanwhile_is_not_signed_in(client, org, enrolled):
    user, device, _codes = enrolled
    password_login(client, user)
    user.is_active = False
    user.save()
    assert verify(client, code_for(device))["Location"] == "/login/"
    assert signed_in_as(client) is None


@pytest.fixture
def limits(settings):
    settings.LOGIN_RATE_LIMIT = (3, 300)
    return settings


def test_wrong_codes_lock_the_account_and_the_lockout_is_audited(client, org, enrolled, limits):
    user, device, _codes = enrolled
    password_login(client, user)
    for expected in (400, 400, 429):
        assert verify(client, "000000").status_code == expected
    locked = AuditEvent.objects.get(event="mfa.locked", organization=org)
    assert locked.after == {"failures": 3, "address": "127.0.0.1", "minutes": 5}
    response = verify(client, code_for(device))  # even the right code, from any browser
    assert response.status_code == 429 and "Too many wrong codes" in response.content.decode()
    assert signed_in_as(client) is None
    other_browser = client.__class__()
    password_login(other_browser, user)
    assert verify(other_browser, code_for(device)).status_code == 429
    assert AuditEvent.objects.filter(event="mfa.locked").count() == 1  # recorded once


def test_the_limit_is_per_account(client, org, enrolled, limits):
    user, _device, _codes = enrolled
    colleague = member(org)
    colleague_device, _ = enrol(colleague)
    password_login(client, user)
    for _ in range(3):
        verify(client, "000000")
    other_browser = client.__class__()
    password_login(other_browser, colleague)
    assert verify(other_browser, code_for(colleague_device)).status_code == 302


def test_the_password_step_keeps_its_own_limit(client, org, enrolled, limits):
    user, _device, _codes = enrolled
    for _ in range(3):
        client.post("/login/", {"username": user.username, "password": "nope"})
    assert password_login(client, user).status_code == 429
    assert PENDING_KEY not in client.session


def test_a_user_of_no_organization_can_still_use_a_second_factor(client, db):
    loner = UserFactory()
    device, _codes = enrol(loner)
    password_login(client, loner)
    assert verify(client, "000000").status_code == 400  # audited nowhere: no organization is theirs
    assert verify(client, code_for(device)).status_code == 302
    assert not AuditEvent.objects.exists()
