"""The services' rules that the pages do not show by themselves: django-otp's own throttle, what each audit entry
reads like, and the organization boundary of the settings page."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from core import clients
from core.actors import Actor
from core.events import EVENTS, describe
from core.models import AuditEvent, Membership
from mfa import services
from mfa.events import EVENTS as MFA_EVENTS
from mfa.selectors import mfa_required
from tests.conftest import member
from tests.mfa.conftest import code_for, enrol


def test_django_otps_own_delay_after_a_wrong_code_is_answered_without_counting_it(org, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1  # the default: 1 s after a wrong code, 2 s after two…
    user = member(org)
    device, _codes = enrol(user)
    with pytest.raises(services.CodeRefused, match="not valid"):
        services.sign_in_verify(user=user, code="000000", address="10.0.0.1")
    with pytest.raises(services.CodeRefused, match="wait a few seconds"):
        services.sign_in_verify(user=user, code=code_for(device), address="10.0.0.1")
    key = clients.limit_key("mfa-fail:account", f"user:{user.pk}")
    assert cache.get(key) == 1  # the refused wait is no wrong code
    assert AuditEvent.objects.filter(event="mfa.verification_failed").count() == 1
    device.refresh_from_db()
    device.throttling_failure_timestamp -= timedelta(seconds=2)  # two seconds later
    device.save()
    assert services.sign_in_verify(user=user, code=code_for(device)).device == device


def test_a_code_of_a_user_without_a_second_factor_is_a_clear_error(org):
    user = member(org)
    with pytest.raises(services.IllegalTransition, match="not set up"):
        services.sign_in_verify(user=user, code="123456")


def test_an_empty_code_is_refused_without_counting(org):
    user = member(org)
    enrol(user)
    with pytest.raises(services.CodeRefused, match="Enter the 6-digit code"):
        services.sign_in_verify(user=user, code="  - ")
    assert not AuditEvent.objects.filter(event="mfa.verification_failed").exists()


def test_every_event_is_registered_and_reads_as_a_sentence(org):
    user = member(org, first_name="Ada", last_name="Admin")
    device, codes = enrol(user)
    services.sign_in_verify(user=user, code=codes[0])
    services.sign_in_verify(user=user, code=code_for(device))
    with pytest.raises(services.CodeRefused):
        services.sign_in_verify(user=user, code="000000", address="10.0.0.9")
    services.mfa_policy_update(organization=org, actor=Actor.for_user(user), required=True)
    assert set(MFA_EVENTS) <= set(EVENTS)
    sentences = {entry.event: describe(entry) for entry in AuditEvent.objects.all()}
    assert sentences["mfa.enrolled"] == "Ada Admin set up two-factor authentication with an authenticator app"
    assert sentences["mfa.recovery_code_used"] == f"{user.username} used a recovery code (9 left)"
    assert sentences["mfa.verified"] == f"{user.username} confirmed a sign-in with an authenticator code"
    assert sentences["mfa.verification_failed"] == \
        f"A wrong two-factor code was entered for {user.username} (from 10.0.0.9)"
    assert sentences["mfa.policy_changed"] == ("Ada Admin changed whether owners and admins of Acme must use "
                                               "two-factor authentication (required: True)")


def test_the_policy_is_read_from_the_cache_and_follows_every_change(org, django_assert_num_queries):
    owner = member(org, Membership.Role.OWNER)
    enrol(owner)
    assert not mfa_required(organization=org)
    with django_assert_num_queries(0):
        assert not mfa_required(organization=org)
    services.mfa_policy_update(organization=org, actor=Actor.for_user(owner), required=True)
    assert mfa_required(organization=org)
    org.mfa_policy.delete()  # any writer, the admin site included
    assert not mfa_required(organization=org)


def test_another_organizations_owners_settings_page_shows_none_of_ours(client, org, other_org):
    ours = member(org, Membership.Role.ADMIN, username="acme-secret-admin")
    enrol(ours)
    theirs = member(other_org, Membership.Role.OWNER)
    client.force_login(theirs)
    assert client.get(f"/o/{org.slug}/settings/mfa/").status_code == 404
    page = client.get(f"/o/{other_org.slug}/settings/mfa/").content.decode()
    assert "acme-secret-admin" not in page
    seat = Membership.objects.get(user=ours, organization=org)
    assert client.get(f"/o/{other_org.slug}/settings/mfa/members/{seat.pk}/reset/").status_code == 404
