"""The sign-in e-mail leaves from a Celery task queued after commit: the request does the same work, the same
queries and gives the same answer for a known and an unknown e-mail; the task retries a mail server failure a
bounded number of times, logs it, and the person asking never learns of it."""

import json
import logging
import re
import time

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.crypto import decrypt, encrypt
from core.models import Employee
from enrollment import dispatch, services, tasks
from enrollment.models import SignInToken
from tests.factories import EmployeeFactory

KNOWN, UNKNOWN, GONE = "ada@acme.test", "nobody@acme.test", "gone@acme.test"


@pytest.fixture
def people(org):
    EmployeeFactory(organization=org, email=KNOWN, full_name="Ada Lovelace")
    EmployeeFactory(organization=org, email=GONE, status=Employee.Status.OFFBOARDED)


def _post(client, org, email):
    return client.post(reverse("enroll_signin", kwargs={"enroll_slug": org.slug}), {"email": email},
                       REMOTE_ADDR="10.0.0.7")


def _body(response, email) -> str:
    body = response.content.decode().replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)


def test_known_and_unknown_emails_cost_the_same_queries_and_get_the_same_answer(
        client, org, people, django_capture_on_commit_callbacks):
    client.get(reverse("enroll_home", kwargs={"enroll_slug": org.slug}))  # session and caches warmed alike
    seen = {}
    for email in (KNOWN, UNKNOWN, GONE, KNOWN):
        with django_capture_on_commit_callbacks(execute=False) as callbacks, \
                CaptureQueriesContext(connection) as queries:
            response = _post(client, org, email)
        seen.setdefault(email, []).append({
            "status": response.status_code, "body": _body(response, email),
            "sql": [query["sql"] for query in queries.captured_queries], "callbacks": len(callbacks),
        })
        assert not mail.outbox  # nothing is sent during the request, known e-mail or not
        assert not any(email in query["sql"] for query in queries.captured_queries)  # no employee looked up
    first = seen[KNOWN][0]
    assert first["status"] == 200 and first["callbacks"] == 1
    for email in (UNKNOWN, GONE):
        assert seen[email][0] == first, email
    assert len(seen[KNOWN][1]["sql"]) == len(first["sql"])
    assert not SignInToken.objects.exists()  # the request writes nothing: the task does


def test_the_queued_payload_is_sealed_and_carries_no_code(client, org, people, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args: queued.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, org, KNOWN)
    ((name, (payload,)),) = queued
    assert name == tasks.signin_code_task.name
    assert KNOWN not in payload and not SignInToken.objects.exists() and not mail.outbox
    data = json.loads(decrypt(payload))
    assert set(data) == {"o", "e", "t", "n"} and data["e"] == KNOWN and data["o"] == org.pk
    assert services.signin_code_deliver(payload=payload) == "sent"
    (message,) = mail.outbox
    code = re.search(r"\b(\d{6})\b", message.subject).group(1)
    assert code not in decrypt(payload)


def test_the_task_sends_to_known_active_employees_only(org, people):
    def payload(email, **changes):
        return encrypt(json.dumps({"o": org.pk, "e": email, "t": int(time.time()), "n": email} | changes))

    assert tasks.signin_code_task.apply(args=[payload(UNKNOWN)]).get() == {"status": "unknown"}
    assert tasks.signin_code_task.apply(args=[payload(GONE)]).get() == {"status": "unknown"}
    stale = payload(KNOWN, t=int(time.time()) - services.SIGNIN_PAYLOAD_MAX_AGE - 1)
    assert tasks.signin_code_task.apply(args=[stale]).get() == {"status": "expired"}
    assert tasks.signin_code_task.apply(args=["not a sealed payload"]).get() == {"status": "unreadable"}
    assert not mail.outbox and not SignInToken.objects.exists()
    assert tasks.signin_code_task.apply(args=[payload(KNOWN)]).get() == {"status": "sent"}
    assert [m.to for m in mail.outbox] == [[KNOWN]] and SignInToken.objects.count() == 1


def test_a_redelivered_task_sends_no_second_code(org, people):
    payload = encrypt(json.dumps({"o": org.pk, "e": KNOWN, "t": int(time.time()), "n": "redelivered"}))
    assert services.signin_code_deliver(payload=payload) == "sent"
    assert services.signin_code_deliver(payload=payload) == "already_sent"
    assert len(mail.outbox) == 1 and SignInToken.objects.count() == 1


def test_a_mail_failure_is_logged_and_retried_boundedly_and_the_requester_learns_nothing(
        client, org, people, monkeypatch, caplog, django_capture_on_commit_callbacks):
    attempts = []

    def broken(self, fail_silently=False):
        attempts.append(re.search(r"\b(\d{6})\b", self.subject).group(1))
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
    with caplog.at_level(logging.WARNING, logger="enrollment.services.sign_in"), \
            django_capture_on_commit_callbacks(execute=True):
        known = _post(client, org, KNOWN)
    with django_capture_on_commit_callbacks(execute=True):
        unknown = _post(client, org, UNKNOWN)

    assert (known.status_code, _body(known, KNOWN)) == (unknown.status_code, _body(unknown, UNKNOWN)) \
        == (200, _body(unknown, UNKNOWN))
    assert len(attempts) == services.SIGNIN_MAIL_RETRIES + 1  # the first try and the bounded retries
    warnings = [r for r in caplog.records if r.name == "enrollment.services.sign_in" and r.levelno == logging.WARNING]
    assert [r.getMessage().split(" (attempt ")[1].split(")")[0] for r in warnings] == [
        f"{n} of {services.SIGNIN_MAIL_RETRIES + 1}" for n in range(1, services.SIGNIN_MAIL_RETRIES + 2)]
    assert "acme" in warnings[0].getMessage() and "ConnectionRefusedError" in warnings[0].getMessage()
    logged = caplog.text
    assert not any(code in logged for code in attempts)  # the codes never reach the logs
    assert not SignInToken.objects.exists()  # each failed attempt's code died with it


def test_the_task_retries_only_mail_errors_and_then_succeeds(org, people, monkeypatch):
    real_send = mail.EmailMultiAlternatives.send
    failures = iter([ConnectionRefusedError("down"), TimeoutError("slow")])

    def flaky(self, fail_silently=False):
        error = next(failures, None)
        if error:
            raise error
        return real_send(self, fail_silently=fail_silently)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", flaky)
    payload = encrypt(json.dumps({"o": org.pk, "e": KNOWN, "t": int(time.time()), "n": "flaky"}))
    assert tasks.signin_code_task.apply(args=[payload]).get() == {"status": "sent"}
    assert len(mail.outbox) == 1 and SignInToken.objects.count() == 1  # one valid code: the one that left
    assert tasks.signin_code_task.autoretry_for == (OSError,) and tasks.signin_code_task.max_retries == 4
