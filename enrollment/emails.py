"""The e-mails of enrollment (HTML + text, Django templates), sent once the current transaction commits."""

import os

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from core.languages import employee_language, one_line, organization_language


def site_url() -> str:
    """Where the cockpit is reached from outside (links in e-mails): ``COCKPIT_BASE_URL``."""
    configured = getattr(settings, "COCKPIT_BASE_URL", "") or os.environ.get("COCKPIT_BASE_URL", "")
    return (configured or "http://localhost:8000").rstrip("/")


def enrollment_page_url(organization) -> str:
    return site_url() + reverse("enroll_home", kwargs={"enroll_slug": organization.slug})


def message_language(context: dict) -> str:
    """An e-mail to an employee speaks their language, else their organization's (``core.languages``)."""
    employee = context.get("employee")
    return employee_language(employee) if employee is not None else organization_language(context.get("organization"))


def build_message(template: str, *, to: str, context: dict, language: str | None = None) -> EmailMultiAlternatives:
    """``templates/enrollment/email/<template>_subject.txt``, ``.txt`` and ``.html``, in ``language`` (by default
    the employee's of the context, else the organization's).

    The subject and the text part are plain text: their templates render inside ``{% autoescape off %}``, so
    "David's iMac" stays as typed; only the HTML part escapes (tests/enrollment/test_emails.py checks every one).
    """
    with translation.override(language or message_language(context)):
        subject = one_line(render_to_string(f"enrollment/email/{template}_subject.txt", context))
        text = render_to_string(f"enrollment/email/{template}.txt", context)
        html = render_to_string(f"enrollment/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(html, "text/html")
    return message


def send_on_commit(template: str, *, to: str, context: dict) -> None:
    message = build_message(template, to=to, context=context)
    transaction.on_commit(lambda: message.send(fail_silently=False))


MAIL_TIMEOUT = 60  # seconds per SMTP exchange, unless ``EMAIL_TIMEOUT`` says otherwise


def connection():
    """A mail connection for many messages (one SMTP session), opened and closed by the caller. It times out: a
    mail server that stops answering fails the chunk (retried) instead of holding its batch forever."""
    return get_connection(fail_silently=False, timeout=getattr(settings, "EMAIL_TIMEOUT", None) or MAIL_TIMEOUT)
