"""The enrollment page's sign-in: one-time code and link, expiry, single use, rate limits, no enumeration,
and isolation between organizations (the page is public, so it proves it here)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Employee
from devices.models import EnrollmentStatus
from enrollment import services
from enrollment.models import Invitation, SignInToken
from tests.factories import DeviceFactory, EmployeeFactory


def home(org):
    return reverse("enroll_home", kwargs={"enroll_slug": org.slug})


def ask(client, org, email, address="10.0.0.1"):
    """Ask for a code; the e-mail task queued on commit runs (eagerly) before this returns."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("enroll_signin", kwargs={"enroll_slug": org.slug}), {"email": email},
                           REMOTE_ADDR=address)


def code_from(message) -> str:
    return re.search(r"\b(\d{6})\b", message.subject).group(1)


def link_from(message) -> str:
    return re.search(r"(/enroll/[^/]+/sign-in/link/[^/\s]+/)", message.body).group(1)


def enter(client, org, email, code, address="10.0.0.1"):
    return client.post(reverse("enroll_code", kwargs={"enroll_slug": org.slug}), {"email": email, "code": code},
                       REMOTE_ADDR=address)


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace")


def test_unknown_slug_is_404(client, db):
    assert client.get("/enroll/nobody/").status_code == 404


def test_sign_in_page_names_the_organization(client, org):
    response = client.get(home(org))
    assert response.status_code == 200 and b"Acme" in response.content and b"Work e-mail" in response.content


def test_sign_in_with_the_code(client, org, ada):
    response = ask(client, org, "Ada@Acme.test ")
    assert response.status_code == 200
    (message,) = mail.outbox
    assert message.to == ["ada@acme.test"] and message.alternatives
    response = enter(client, org, "ada@acme.test", code_from(message))
    assert response.status_code == 302 and response["Location"] == home(org)
    page = client.get(home(org))
    assert b"Hello Ada Lovelace" in page.content
    assert AuditEvent.objects.for_org(org).filter(event="enrollment.signed_in", target_id=str(ada.pk)).exists()


def test_only_hashes_are_stored(client, org, ada):
    ask(client, org, "ada@acme.test")
    message = mail.outbox[0]
    token = SignInToken.objects.get()
    code, link = code_from(message), link_from(message).rstrip("/").rsplit("/", 1)[1]
    assert code not in token.code_hash and link not in token.link_hash and len(token.link_hash) == 64


def test_sign_in_with_the_link_needs_a_post(client, org, ada):
    ask(client, org, "ada@acme.test")
    link = link_from(mail.outbox[0])
    assert client.get(link).status_code == 200  # a mail scanner opening it signs nobody in
    assert b"Hello" not in client.get(home(org)).content
    assert client.post(link).status_code == 302
    assert b"Hello Ada" in client.get(home(org)).content


def test_code_and_link_are_single_use(client, org, ada):
    ask(client, org, "ada@acme.test")
    message = mail.outbox[0]
    assert enter(client, org, "ada@acme.test", code_from(message)).status_code == 302
    other = client.__class__()
    assert enter(other, org, "ada@acme.test", code_from(message)).status_code == 400
    assert other.post(link_from(message)).status_code == 400  # the link died with the code


def test_code_expires_after_15_minutes(client, org, ada):
    ask(client, org, "ada@acme.test")
    SignInToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert enter(client, org, "ada@acme.test", code_from(mail.outbox[0])).status_code == 400
    token_ttl = services.SIGNIN_TTL
    assert token_ttl == timedelta(minutes=15)


def test_link_expires(client, org, ada):
    ask(client, org, "ada@acme.test")
    SignInToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.post(link_from(mail.outbox[0])).status_code == 400


def test_wrong_codes_burn_the_token(client, org, ada):
    ask(client, org, "ada@acme.test")
    right = code_from(mail.outbox[0])
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(services.SIGNIN_MAX_FAILURES_PER_TOKEN):
        assert enter(client, org, "ada@acme.test", wrong).status_code == 400
    assert enter(client, org, "ada@acme.test", right).status_code == 400


def test_no_enumeration_identical_answer_and_status(client, org, ada):
    EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    answers = {}
    for email in ("ada@acme.test", "nobody@acme.test", "gone@acme.test"):
        response = ask(client, org, email)
        body = response.content.decode().replace(email, "EMAIL")
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
        answers[email] = (response.status_code, body)
    assert answers["ada@acme.test"] == answers["nobody@acme.test"] == answers["gone@acme.test"]
    assert [m.to for m in mail.outbox] == [["ada@acme.test"]]  # only the known, active employee gets mail


def test_rate_limit_per_email_known_or_not(client, org, ada, settings):
    limit = settings.ENROLLMENT_SIGNIN_REQUESTS_PER_EMAIL[0]
    for email in ("ada@acme.test", "nobody@acme.test"):
        statuses = [ask(client, org, email, address=f"10.0.1.{n}").status_code for n in range(limit + 1)]
        assert statuses == [200] * limit + [429], email
    assert len(mail.outbox) == limit


def test_rate_limit_per_address(client, org, ada, settings):
    limit = settings.ENROLLMENT_SIGNIN_REQUESTS_PER_ADDRESS[0]  # per organization: see test_signin_limits
    statuses = [ask(client, org, f"someone{n}@acme.test", address="10.9.9.9").status_code for n in range(limit + 1)]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}


def test_rate_limit_on_code_attempts(client, org, ada, settings):
    ask(client, org, "ada@acme.test")
    limit = settings.ENROLLMENT_SIGNIN_ATTEMPTS_PER_EMAIL[0]
    statuses = [enter(client, org, "ada@acme.test", "000000", address=f"10.0.2.{n}").status_code
                for n in range(limit + 1)]
    assert statuses[-1] == 429


def test_offboarded_employee_cannot_sign_in(client, org, ada):
    ask(client, org, "ada@acme.test")
    code = code_from(mail.outbox[0])
    Employee.objects.filter(pk=ada.pk).update(status=Employee.Status.OFFBOARDED)
    assert enter(client, org, "ada@acme.test", code).status_code == 400
    assert b"Hello" not in client.get(home(org)).content


def test_offboarding_closes_an_open_session(client, org, ada):
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[0]))
    Employee.objects.filter(pk=ada.pk).update(status=Employee.Status.OFFBOARDED)
    assert b"Hello" not in client.get(home(org)).content


def test_sign_in_marks_invitations_used(client, org, ada, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send(employee=ada, actor=actor)
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[-1]))
    assert Invitation.objects.get().used_at is not None


def test_sign_out(client, org, ada):
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[0]))
    client.post(reverse("enroll_signout", kwargs={"enroll_slug": org.slug}))
    assert b"Hello" not in client.get(home(org)).content


# --- cross-organization ---------------------------------------------------------------------------


def test_employee_of_a_cannot_sign_in_on_b(client, org, other_org, ada):
    assert ask(client, other_org, "ada@acme.test").status_code == 200  # the same answer as everyone
    assert not mail.outbox and not SignInToken.objects.exists()


def test_a_code_of_a_does_not_open_b(client, org, other_org, ada):
    EmployeeFactory(organization=other_org, email="ada@acme.test")  # the same address exists in B
    ask(client, org, "ada@acme.test")
    code = code_from(mail.outbox[0])
    assert enter(client, other_org, "ada@acme.test", code).status_code == 400
    assert client.post(link_from(mail.outbox[0]).replace("/acme/", "/globex/")).status_code == 400
    assert b"Hello" not in client.get(home(other_org)).content


def test_signed_in_on_a_sees_nothing_of_b(client, org, other_org, ada):
    DeviceFactory(organization=org, name="ada-mbp", assignee=ada, availability_status="in_use",
                  assignment_status="assigned")
    bob = EmployeeFactory(organization=other_org, email="bob@globex.test")
    DeviceFactory(organization=other_org, name="globex-secret-laptop", assignee=bob, availability_status="in_use",
                  assignment_status="assigned")
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[0]))
    mine = client.get(home(org)).content
    assert b"ada-mbp" in mine and b"globex-secret-laptop" not in mine
    theirs = client.get(home(other_org))
    assert b"Work e-mail" in theirs.content and b"ada-mbp" not in theirs.content
    assert b"globex-secret-laptop" not in theirs.content


def test_signed_in_employee_sees_plain_status_and_fix_step(client, org, ada):
    DeviceFactory(organization=org, name="ada-mbp", platform="macos", assignee=ada, availability_status="in_use",
                  assignment_status="assigned", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                  enrollment_issues=["agent_missing"], mdm_enrolled_at=timezone.now())
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[0]))
    page = client.get(home(org)).content.decode()
    assert "Needs your attention" in page
    assert "select this device and download the agent again" in page


@pytest.mark.parametrize("issue", ["agent_inactive", "enrollment_incomplete", "mdm_profile_missing", "offline"])
def test_issues_fixed_by_installing_again_offer_the_installer(client, org, ada, issue):
    from core.actors import Actor

    services.enrollment_settings_save(organization=org, actor=Actor.system("tests"), enroll_secret="s",
                                      fleet_url="https://fleet.acme.test")
    DeviceFactory(organization=org, name="ada-mbp", platform="macos", assignee=ada, availability_status="in_use",
                  assignment_status="assigned", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                  enrollment_issues=[issue], mdm_enrolled_at=timezone.now())
    ask(client, org, "ada@acme.test")
    enter(client, org, "ada@acme.test", code_from(mail.outbox[0]))
    page = client.get(home(org)).content.decode()
    assert 'class="agent-download"' in page


def test_a_mail_server_error_answers_like_an_unknown_email(client, org, ada, monkeypatch):
    def broken(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
    known, unknown = ask(client, org, "ada@acme.test"), ask(client, org, "nobody@acme.test")
    assert known.status_code == unknown.status_code == 200

