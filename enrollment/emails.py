"""The e-mails of enrollment (HTML + text, Django templates), sent once the current transaction commits."""

import os

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse


def site_url() -> str:
    """Where the cockpit is reached from outside (links in e-mails): ``COCKPIT_BASE_URL``."""
    configured = getattr(settings, "COCKPIT_BASE_URL", "") or os.environ.get("COCKPIT_BASE_URL", "")
    return (configured or "http://localhost:8000").rstrip("/")


def enrollment_page_url(organization) -> str:
    return site_url() + reverse("enroll_home", kwargs={"enroll_slug": organization.slug})


def build_message(template: str, *, to: str, context: dict) -> EmailMultiAlternatives:
    """``templates/enrollment/email/<template>_subject.txt``, ``.txt`` and ``.html``.

    The subject and the text part are plain text: their templates render inside ``{% autoescape off %}``, so
    "David's iMac" stays as typed; only the HTML part escapes (tests/enrollment/test_emails.py checks every one).
    """
    subject = " ".join(render_to_string(f"enrollment/email/{template}_subject.txt", context).split())
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
