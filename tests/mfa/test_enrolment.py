"""The security page (``/account/security/``): set up an authenticator app, recovery codes, turn it off."""

from urllib.parse import unquote

from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import AuditEvent, Membership
from mfa.selectors import has_mfa
from tests.conftest import member
from tests.factories import MembershipFactory
from tests.mfa.conftest import code_for, enrol
from tests.mfa.factories import MfaPolicyFactory

URL = "/account/security/"


def test_the_page_needs_a_signed_in_user(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/account/security/")


def test_setting_up_an_authenticator_app(client, org):
    user = member(org)
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert "Set up an authenticator app" in page and 'id="mfa-qr"' not in page

    assert client.post(URL, {"action": "start"}).status_code == 302
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed and not has_mfa(user=user)
    page = client.get(URL).content.decode()
    assert "<svg" in page.split('id="mfa-qr"', 1)[1][:200]  # the QR code, inline
    secret = page.split('id="mfa-secret">', 1)[1].split("<", 1)[0]
    from base64 import b32encode

    assert secret.replace(" ", "") == b32encode(device.bin_key).decode()

    wrong = client.post(URL, {"action": "confirm", "code": "12345"})
    assert wrong.status_code == 400 and not has_mfa(user=user)
    response = client.post(URL, {"action": "confirm", "code": code_for(device)})
    assert response.status_code == 200 and has_mfa(user=user)
    page = response.content.decode()
    codes = [line.split("</li>")[0] for line in page.split('id="recovery-code-list">', 1)[1].split("</ul>")[0]
             .split("<li>")[1:]]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert sorted(code.replace("-", "") for code in codes) == sorted(
        StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    download = page.split('id="recovery-codes-download"', 1)[1].split(">", 1)[0]
    assert 'download="fleet-cockpit-recovery-codes.txt"' in download
    text = unquote(download.split('href="data:text/plain;charset=utf-8,', 1)[1].split('"', 1)[0])
    assert all(code in text.splitlines() for code in codes)
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    # The session that typed the code is confirmed too; the codes are never shown again.
    assert client.session["otp_device_id"] == device.persistent_id
    again = client.get(URL).content.decode()
    assert codes[0] not in again and "10 recovery codes left" in again
    enrolled = AuditEvent.objects.get(event="mfa.enrolled")
    assert enrolled.organization == org and enrolled.target_id == str(user.pk) and enrolled.actor_user == user


def test_starting_again_replaces_the_unconfirmed_app_and_a_confirmed_one_is_kept(client, org):
    user = member(org)
    client.force_login(user)
    client.post(URL, {"action": "start"})
    first = TOTPDevice.objects.get(user=user)
    old_code = code_for(first)
    client.post(URL, {"action": "start"})
    second = TOTPDevice.objects.get(user=user)
    assert second.pk != first.pk
    assert client.post(URL, {"action": "confirm", "code": old_code}).status_code == 400  # the old key
    client.post(URL, {"action": "confirm", "code": code_for(second)})
    response = client.post(URL, {"action": "start"}, follow=True)
    assert "already set up" in response.content.decode()
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_confirming_without_starting_is_a_clear_error(client, org):
    client.force_login(member(org))
    response = client.post(URL, {"action": "confirm", "code": "123456"})
    assert response.status_code == 409 and "start again" in response.content.decode()


def test_regenerating_recovery_codes_needs_a_current_code(client, org):
    user = member(org)
    device, old_codes = enrol(user)
    client.force_login(user)
    response = client.post(URL, {"action": "regenerate", "regenerate-code": "000000"})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert StaticToken.objects.filter(device__user=user).count() == 10
    response = client.post(URL, {"action": "regenerate", "regenerate-code": code_for(device)})
    assert response.status_code == 200
    new_tokens = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(new_tokens) == 10 and not new_tokens & {code.replace("-", "") for code in old_codes}
    assert "recovery-code-list" in response.content.decode()
    assert AuditEvent.objects.filter(event="mfa.recovery_codes_regenerated", organization=org).count() == 1


def test_a_recovery_code_also_serves_as_the_current_code_and_is_spent(client, org):
    user = member(org)
    _device, codes = enrol(user)
    client.force_login(user)
    assert client.post(URL, {"action": "regenerate", "regenerate-code": codes[0]}).status_code == 200
    assert AuditEvent.objects.get(event="mfa.recovery_code_used").after == {"remaining": 9}


def test_removing_needs_a_current_code(client, org):
    user = member(org)
    device, _codes = enrol(user)
    client.force_login(user)
    assert client.post(URL, {"action": "remove", "remove-code": "000000"}).status_code == 400
    assert has_mfa(user=user)
    response = client.post(URL, {"action": "remove", "remove-code": code_for(device)})
    assert response.status_code == 302 and not has_mfa(user=user)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert AuditEvent.objects.filter(event="mfa.removed", organization=org).count() == 1


def test_removing_is_refused_while_an_organization_requires_it_for_the_role(client, org, other_org):
    user = member(org, Membership.Role.VIEWER)
    MembershipFactory(organization=other_org, user=user, role=Membership.Role.OWNER)
    device, _codes = enrol(user)
    MfaPolicyFactory(organization=org)  # requires it of owners and admins: not of this user's viewer seat
    client.force_login(user)
    assert client.post(URL, {"action": "remove", "remove-code": code_for(device)}).status_code == 302
    device, _codes = enrol(user)
    MfaPolicyFactory(organization=other_org)  # where the user is an owner
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert "You cannot turn it off" in page and "Globex" in page
    response = client.post(URL, {"action": "remove", "remove-code": code_for(device)})
    assert response.status_code == 409 and "Globex requires it" in response.content.decode()
    assert has_mfa(user=user)
    assert AuditEvent.objects.filter(event="mfa.removed", organization=other_org).count() == 1  # the first one


def test_an_unknown_action_changes_nothing(client, org):
    user = member(org)
    client.force_login(user)
    assert client.post(URL, {"action": "explode"}).status_code == 400
    assert not TOTPDevice.objects.filter(user=user).exists()
