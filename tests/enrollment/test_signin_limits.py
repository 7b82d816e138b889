"""The enrollment page's sign-in limits (issue #12 §4): per e-mail per organization and, much higher, per address
per organization; X-Forwarded-For believed only from a trusted proxy; lockouts audited the same for known and
unknown e-mails."""

import re

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from core.audit import describe
from core.models import AuditEvent
from tests.factories import EmployeeFactory


def ask(client, org, email, address="10.0.0.1", **extra):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("enroll_signin", kwargs={"enroll_slug": org.slug}), {"email": email},
                           REMOTE_ADDR=address, **extra)


def enter(client, org, email, code, address="10.0.0.1", **extra):
    return client.post(reverse("enroll_code", kwargs={"enroll_slug": org.slug}), {"email": email, "code": code},
                       REMOTE_ADDR=address, **extra)


@pytest.fixture
def limits(settings):
    settings.ENROLLMENT_SIGNIN_REQUESTS_PER_EMAIL = (3, 900)
    settings.ENROLLMENT_SIGNIN_REQUESTS_PER_ADDRESS = (6, 900)
    settings.ENROLLMENT_SIGNIN_ATTEMPTS_PER_EMAIL = (3, 900)
    settings.ENROLLMENT_SIGNIN_ATTEMPTS_PER_ADDRESS = (6, 900)
    settings.TRUSTED_PROXIES = []
    return settings


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test")


@pytest.fixture
def hal(other_org):
    return EmployeeFactory(organization=other_org, email="hal@globex.test")


# --- the reproduction: one address on one page never locks another organization out -----------------


def test_requests_from_one_address_on_one_page_leave_another_organizations_employees_their_codes(
        client, org, other_org, hal, limits):
    statuses = [ask(client, org, f"someone{n}@acme.test", address="10.9.9.9").status_code for n in range(7)]
    assert statuses == [200] * 6 + [429]
    # The same address, another organization's page: its employee still gets a code.
    assert ask(client, other_org, "hal@globex.test", address="10.9.9.9").status_code == 200
    assert [m.to for m in mail.outbox] == [["hal@globex.test"]]


def test_one_e_mail_locked_leaves_the_others_and_the_same_e_mail_elsewhere(client, org, other_org, ada, limits):
    EmployeeFactory(organization=other_org, email="ada@acme.test")  # the same person, also at Globex
    statuses = [ask(client, org, "nobody@acme.test", address=f"10.0.1.{n}").status_code for n in range(4)]
    assert statuses == [200] * 3 + [429]
    assert ask(client, org, "ada@acme.test", address="10.0.1.1").status_code == 200
    assert ask(client, other_org, "nobody@acme.test", address="10.0.1.1").status_code == 200
    assert len(mail.outbox) == 1


def test_code_attempts_are_limited_per_e_mail_and_per_address_in_one_organization(
        client, org, other_org, ada, hal, limits):
    assert [enter(client, org, "ada@acme.test", "000000", address=f"10.0.2.{n}").status_code
            for n in range(4)] == [400] * 3 + [429]
    assert enter(client, org, "someone@acme.test", "000000", address="10.0.2.1").status_code == 400
    # One address trying codes for many e-mails: stopped at the (higher) address limit, on this page only.
    assert [enter(client, org, f"p{n}@acme.test", "000000", address="10.0.3.1").status_code
            for n in range(7)] == [400] * 6 + [429]
    assert enter(client, other_org, "hal@globex.test", "000000", address="10.0.3.1").status_code == 400


def test_the_limits_keep_their_answers(client, org, limits):
    for _ in range(3):
        ask(client, org, "nobody@acme.test")
    response = ask(client, org, "nobody@acme.test")
    assert response.status_code == 429 and b"Too many sign-in requests" in response.content
    for _ in range(3):
        enter(client, org, "nobody@acme.test", "000000")
    response = enter(client, org, "nobody@acme.test", "000000")
    assert response.status_code == 429 and b"Too many attempts" in response.content


# --- X-Forwarded-For only from a trusted proxy --------------------------------------------------------------------


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(client, org, limits):
    statuses = [ask(client, org, f"p{n}@acme.test", address="203.0.113.5",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(7)]
    assert statuses[-1] == 429


def test_forwarded_for_from_a_trusted_proxy_tells_its_clients_apart(client, org, ada, limits):
    limits.TRUSTED_PROXIES = ["10.0.0.1"]
    statuses = [ask(client, org, f"p{n}@acme.test", address="10.0.0.1",
                    HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 198.51.100.7").status_code for n in range(7)]
    assert statuses[-1] == 429  # the client's own claims, left of the proxy's entry, are not believed
    assert ask(client, org, "ada@acme.test", address="10.0.0.1",
               HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200
    assert [m.to for m in mail.outbox] == [["ada@acme.test"]]


# --- lockouts in the audit log, the same for a known and an unknown e-mail ----------------------------------------


def _entry_body(entry) -> tuple:
    return entry.event, entry.actor_label, entry.target_type, entry.target_id, entry.source


def test_an_e_mail_lockout_is_audited_once_the_same_for_known_and_unknown(client, org, ada, limits):
    answers = {}
    for email in ("ada@acme.test", "nobody@acme.test"):
        for n in range(5):  # the fourth is refused and recorded; the fifth records nothing more
            response = ask(client, org, email, address=f"10.0.4.{n}")
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        answers[email] = (response.status_code, body.replace(email, "EMAIL"))
    assert answers["ada@acme.test"] == answers["nobody@acme.test"]
    entries = list(AuditEvent.objects.for_org(org).filter(event="enrollment.signin_email_locked").order_by("id"))
    assert [entry.after["email"] for entry in entries] == ["ada@acme.test", "nobody@acme.test"]
    assert _entry_body(entries[0]) == _entry_body(entries[1])
    assert entries[0].target_id == str(org.pk)
    assert entries[0].after == {"email": "ada@acme.test", "kind": "code requests", "allowed": 3, "minutes": 15}


def test_an_address_lockout_is_audited_in_that_organization_only(client, org, other_org, limits):
    for n in range(8):
        ask(client, org, f"p{n}@acme.test", address="10.0.5.5")
    for n in range(4):
        enter(client, org, f"q{n}@acme.test", "000000", address="10.0.5.6")
    for _ in range(3):
        enter(client, org, "q0@acme.test", "000000", address="10.0.5.7")
    (requests,) = AuditEvent.objects.for_org(org).filter(event="enrollment.signin_address_locked")
    assert requests.after == {"address": "10.0.5.5", "kind": "code requests", "allowed": 6, "minutes": 15}
    (attempts,) = AuditEvent.objects.for_org(org).filter(event="enrollment.signin_email_locked")
    assert attempts.after["email"] == "q0@acme.test" and attempts.after["kind"] == "code attempts"
    assert not AuditEvent.objects.for_org(other_org).exists()


def test_lockout_entries_read_as_sentences(client, org, limits):
    for _ in range(4):
        ask(client, org, "nobody@acme.test", address="10.0.6.1")
    entry = AuditEvent.objects.for_org(org).get(event="enrollment.signin_email_locked")
    assert describe(entry) == ("Enrollment sign-in paused for nobody@acme.test: more than 3 code requests in "
                               "15 minutes")
