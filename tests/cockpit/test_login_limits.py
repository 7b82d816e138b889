"""The cockpit sign-in's limits (issue #12 §4): failures counted per account and, far higher, per client address,
the address read through ``core.clients.client_address`` (X-Forwarded-For only from a trusted proxy), and the
lockout of a known account audited in each of its organizations."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.clients import address_bucket, client_address
from core.models import AuditEvent
from tests.conftest import PASSWORD, member
from tests.factories import MembershipFactory, UserFactory

LOCKED = "Too many failed sign-in attempts"


def login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


@pytest.fixture
def limits(settings):
    settings.LOGIN_RATE_LIMIT = (3, 300)
    settings.LOGIN_ADDRESS_RATE_LIMIT = (8, 300)
    settings.TRUSTED_PROXIES = []
    return settings


# --- the reproduction: one account's failures never block another account ----------------------------


def test_wrong_passwords_for_one_account_do_not_lock_out_another_account(client, org, limits):
    victim_of_typos, colleague = member(org), member(org)
    for _ in range(10):
        login(client, victim_of_typos.username, "nope")
    assert login(client, victim_of_typos.username, PASSWORD).status_code == 429
    response = login(client, colleague.username, PASSWORD)
    assert response.status_code == 302 and int(client.session["_auth_user_id"]) == colleague.pk


def test_the_locked_account_is_locked_from_every_address_and_by_e_mail_too(client, org, limits):
    user = member(org)
    for n in range(3):
        login(client, user.username, "nope", REMOTE_ADDR=f"10.0.0.{n}")
    for typed in (user.username, user.email, user.email.upper()):
        response = login(client, typed, PASSWORD, REMOTE_ADDR="10.0.9.9")
        assert response.status_code == 429 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_typed_as_e_mail_count_against_the_same_account(client, org, limits):
    user = member(org)
    login(client, user.username, "nope")
    login(client, user.email, "nope")
    login(client, user.email.upper(), "nope")
    assert login(client, user.username, PASSWORD).status_code == 429


def test_the_address_limit_is_far_higher_and_blocks_guessing_across_accounts(client, org, limits):
    colleague = member(org)
    for n in range(8):  # three failures per account would lock each one; eight names, one each
        assert login(client, f"guess{n}", "nope", REMOTE_ADDR="10.1.1.1").status_code == 200
    assert login(client, colleague.username, PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert login(client, colleague.username, PASSWORD, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_a_right_password_clears_the_accounts_count(client, org, limits):
    user = member(org)
    login(client, user.username, "nope")
    login(client, user.username, "nope")
    assert login(client, user.username, PASSWORD).status_code == 302
    client.logout()
    login(client, user.username, "nope")
    login(client, user.username, "nope")
    assert login(client, user.username, PASSWORD).status_code == 302


def test_ipv6_addresses_of_one_64_share_the_address_limit(client, org, limits):
    for n in range(8):
        login(client, f"guess{n}", "nope", REMOTE_ADDR=f"2001:db8:0:1::{n + 1:x}")
    assert login(client, "guess-more", "nope", REMOTE_ADDR="2001:db8:0:1::ffff").status_code == 429
    assert login(client, "guess-more", "nope", REMOTE_ADDR="2001:db8:0:2::1").status_code == 200


# --- X-Forwarded-For is believed only from a trusted proxy ------------------------------------------------------


def test_forwarded_for_is_ignored_without_trusted_proxies(client, org, limits):
    user = member(org)
    for n in range(8):  # an attacker writing a new X-Forwarded-For each time is still one address
        login(client, f"guess{n}", "nope", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert login(client, user.username, PASSWORD, REMOTE_ADDR="203.0.113.5",
                 HTTP_X_FORWARDED_FOR="198.51.100.200").status_code == 429


def test_forwarded_for_from_a_trusted_proxy_separates_its_clients(client, org, limits):
    limits.TRUSTED_PROXIES = ["10.0.0.0/24"]
    user = member(org)
    for n in range(8):
        login(client, f"guess{n}", "nope", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    # The attacker behind the proxy is locked out; a colleague behind the same proxy is not.
    assert login(client, user.username, PASSWORD, REMOTE_ADDR="10.0.0.2",
                 HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert login(client, user.username, PASSWORD, REMOTE_ADDR="10.0.0.2",
                 HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "expected"), [
    ([], "10.0.0.2", "198.51.100.7", "10.0.0.2"),  # no trusted proxy: the header is anyone's claim
    (["10.0.0.1"], "10.0.0.2", "198.51.100.7", "10.0.0.2"),  # the peer is not the trusted proxy
    (["10.0.0.0/24"], "10.0.0.2", "198.51.100.7", "198.51.100.7"),
    (["10.0.0.0/24"], "10.0.0.2", "", "10.0.0.2"),  # a trusted proxy that forwarded nothing
    (["10.0.0.0/24"], "10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # the client's own claim is left of it
    (["10.0.0.0/24"], "10.0.0.2", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # a chain of trusted proxies
    (["10.0.0.0/24", "2001:db8::/32"], "2001:db8::1", "198.51.100.7:5123", "198.51.100.7"),
    (["10.0.0.0/24"], "10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
    (["10.0.0.0/24"], "10.0.0.2", "1.2.3.4, not-an-address", "10.0.0.2"),  # garbage where the client should be
    (["10.0.0.0/24"], "10.0.0.2", "10.0.0.5, 10.0.0.9", "10.0.0.5"),  # only proxies: the farthest
    ([], "::ffff:192.0.2.1", "", "192.0.2.1"),
])
def test_client_address(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_address_bucket():
    assert address_bucket("192.0.2.1") == "192.0.2.1"
    assert address_bucket("2001:db8:0:1::5") == address_bucket("2001:db8:0:1:ffff::1") == "2001:db8:0:1::/64"


def test_a_malformed_trusted_proxy_setting_is_refused(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured):
        client_address(RequestFactory().get("/", REMOTE_ADDR="10.0.0.2"))


# --- lockouts in the audit log ----------------------------------------------------------------------------------


def test_the_lockout_of_a_known_account_is_audited_once_in_each_of_its_organizations(client, org, other_org, limits):
    user = member(org)
    MembershipFactory(organization=other_org, user=user)
    for _ in range(5):  # the third failure locks; the refused ones after it record nothing more
        login(client, user.email, "nope", REMOTE_ADDR="10.0.0.7")
    for organization in (org, other_org):
        (entry,) = AuditEvent.objects.for_org(organization).filter(event="auth.login_locked")
        assert entry.target_id == str(user.pk) and entry.actor_type == "system"
        assert entry.after == {"failures": 3, "address": "10.0.0.7", "minutes": 5}
    assert AuditEvent.objects.filter(event="auth.login_locked").count() == 2


def test_the_lockout_of_an_unknown_name_or_a_user_without_organization_is_audited_nowhere(client, org, limits):
    loner = UserFactory()
    for typed in ("nobody", "nobody@acme.test", loner.username):
        for _ in range(3):
            login(client, typed, "nope")
        assert login(client, typed, PASSWORD).status_code == 429
    assert not AuditEvent.objects.filter(event="auth.login_locked").exists()


def test_known_and_unknown_accounts_get_the_same_locked_answer(client, org, limits):
    user = member(org)
    answers = []
    for typed in (user.username, "nobody"):
        for _ in range(3):
            login(client, typed, "nope")
        response = login(client, typed, PASSWORD)
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        answers.append((response.status_code, body.replace(typed, "NAME")))
    assert answers[0] == answers[1] and answers[0][0] == 429
