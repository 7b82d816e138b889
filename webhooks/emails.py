"""The e-mail of webhooks: an endpoint was disabled after repeated failures, to the organization's owners."""

import logging
import os

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from core.models import Membership

logger = logging.getLogger(__name__)


def _site_url() -> str:
    configured = getattr(settings, "COCKPIT_BASE_URL", "") or os.environ.get("COCKPIT_BASE_URL", "")
    return (configured or "http://localhost:8000").rstrip("/")


def owner_emails(organization_id: int) -> list[str]:
    return sorted(set(Membership.objects.filter(
        organization_id=organization_id, role=Membership.Role.OWNER, user__is_active=True,
    ).exclude(user__email="").values_list("user__email", flat=True)))


def _message(template: str, *, to: str, context: dict) -> EmailMultiAlternatives:
    """``templates/webhooks/email/<template>_subject.txt``, ``.txt`` (both plain text) and ``.html``."""
    subject = " ".join(render_to_string(f"webhooks/email/{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"webhooks/email/{template}.txt", context),
                                     from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(render_to_string(f"webhooks/email/{template}.html", context), "text/html")
    return message


def endpoint_disabled_on_commit(endpoint) -> None:
    """Tell each owner of the endpoint's organization, once the disabling commits (one message each)."""
    organization = endpoint.organization
    context = {"organization": organization, "endpoint": endpoint,
               "url": _site_url() + reverse("webhookendpoint_detail", args=[organization.slug, endpoint.pk])}
    messages = [_message("endpoint_disabled", to=email, context=context)
                for email in owner_emails(organization.pk)]

    def send():
        if not messages:
            return
        try:
            with get_connection(fail_silently=False) as connection:
                connection.send_messages(messages)
        except Exception:  # the endpoint stays disabled and shows why; a mail server down must not undo that
            logger.exception("Could not e-mail the owners of organization %s about webhook endpoint %s",
                             organization.pk, endpoint.pk)

    transaction.on_commit(send)
