"""Every e-mail the product sends: subjects and text parts are plain text (never HTML-escaped), HTML parts escape.

Names come from people and from Fleet: "David's iMac", "R&D", "<script>" must reach the inbox as typed.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from core.models import Organization
from devices.models import EnrollmentIssue
from enrollment import services
from enrollment.emails import build_message
from tests.factories import DeviceFactory, EmployeeFactory

ORG_NAME = "O'Reilly & <Sons>"
PERSON = "Zoë O'Brien & <Co>"
DEVICE = "David's iMac <M3> & more"
ESCAPED = ("&#x27;", "&#39;", "&amp;", "&lt;", "&gt;", "&quot;")


@pytest.fixture
def tricky(org):
    Organization.objects.filter(pk=org.pk).update(name=ORG_NAME)
    org.refresh_from_db()
    owner = EmployeeFactory(organization=org, full_name=PERSON, email="zoe@acme.test")
    return org, owner


def assert_plain_and_html(message, *names):
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    for part in (message.subject, message.body):
        assert not any(entity in part for entity in ESCAPED), part
    for name in names:
        assert name in message.body
        assert name not in html  # escaped there…
    assert "&#x27;" in html and "&amp;" in html and "&lt;" in html  # …as HTML must be


def test_invitation(tricky, actor, django_capture_on_commit_callbacks):
    org, owner = tricky
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_send(employee=owner, actor=actor)
        services.invitation_send(employee=owner, actor=actor)  # the reminder has its own subject
    first, reminder = mail.outbox
    assert first.subject == f"Enroll your devices with {ORG_NAME}"
    assert reminder.subject == f"Reminder: Enroll your devices with {ORG_NAME}"
    assert f"Hello {PERSON}," in first.body
    assert_plain_and_html(first, PERSON, ORG_NAME)


def test_fix_instructions(tricky, actor, django_capture_on_commit_callbacks):
    org, owner = tricky
    device = DeviceFactory(organization=org, name=DEVICE, assignee=owner, availability_status="in_use",
                           assignment_status="assigned", enrollment_issues=[EnrollmentIssue.OFFLINE])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.fix_instructions_send(organization=org, devices=[device], actor=actor) == {
            "sent": 1, "skipped": 0}
    (message,) = mail.outbox
    assert message.subject == f"Action needed on {DEVICE} ({ORG_NAME})"
    assert f"Your device {DEVICE} is not fully enrolled in {ORG_NAME}'s device management." in message.body
    assert_plain_and_html(message, PERSON, DEVICE, ORG_NAME)


def test_signin_code(tricky, django_capture_on_commit_callbacks):
    org, owner = tricky
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly here (conftest)
        services.signin_request(organization=org, email=owner.email)
    (message,) = mail.outbox
    assert message.subject.startswith(f"Your sign-in code for {ORG_NAME}: ")
    assert_plain_and_html(message, PERSON, ORG_NAME)


EMAIL_DIR = Path(settings.BASE_DIR) / "templates" / "enrollment" / "email"


@pytest.mark.parametrize("template", sorted({p.name.removesuffix(".html") for p in EMAIL_DIR.glob("*.html")}))
def test_every_email_template_keeps_text_unescaped(template):
    """A guard for the e-mails still to come: each one's subject and text part render names as typed."""
    org = Organization(name=ORG_NAME, slug="acme")
    employee = EmployeeFactory.build(organization=org, full_name=PERSON, email="zoe@acme.test")
    context = {"organization": org, "employee": employee, "device": DEVICE, "detail": DEVICE, "url": "https://x/?a=1&b=2",
               "link": "https://x/?a=1&b=2", "code": "123456", "minutes": 15, "resent": False,
               "steps": [{"title": DEVICE, "employee": PERSON}]}
    message = build_message(template, to="zoe@acme.test", context=context)
    assert ORG_NAME in message.subject + message.body
    for part in (message.subject, message.body):
        assert not any(entity in part for entity in ESCAPED), (template, part)
    assert "&lt;" in message.alternatives[0][0]
