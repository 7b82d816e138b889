"""The e-mail of webhooks: an endpoint was disabled after repeated failures, to the organization's owners."""

import logging
import os

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from core.languages import one_line, supported
from core.models import Membership

logger = logging.getLogger(__name__)


def _site_url() -> str:
    configured = getattr(settings, "COCKPIT_BASE_URL", "") or os.environ.get("COCKPIT_BASE_URL", "")
    return (configured or "http://localhost:8000").rstrip("/")


def owner_recipients(organization_id: int) -> dict[str, str]:
    """``{e-mail: language}`` of the organization's active owners: each one's preference, else the organization's
    language (``core.languages``)."""
    owners = Membership.objects.filter(
        organization_id=organization_id, role=Membership.Role.OWNER, user__is_active=True,
    ).exclude(user__email="").values_list("user__email", "user__preference__language", "organization__language")
    return {email: supported(own) or organization or settings.LANGUAGE_CODE
            for email, own, organization in sorted(owners)}


def _message(template: str, *, to: str, context: dict, language: str) -> EmailMultiAlternatives:
    """``templates/webhooks/email/<template>_subject.txt``, ``.txt`` (both plain text) and ``.html``, in
    ``language``."""
    with translation.override(language):
        subject = one_line(render_to_string(f"webhooks/email/{template}_subject.txt", context))
        text = render_to_string(f"webhooks/email/{template}.txt", context)
        html = render_to_string(f"webhooks/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    message.attach_alternative(html, "text/html")
    return message


def endpoint_disabled_on_commit(endpoint) -> None:
    """Tell each owner of the endpoint's organization, once the disabling commits (one message each)."""
    organization = endpoint.organization
    context = {"organization": organization, "endpoint": endpoint,
               "url": _site_url() + reverse("webhookendpoint_detail", args=[organization.slug, endpoint.pk])}
    messages = [_message("endpoint_disabled", to=email, context=context, language=language)
                for email, language in owner_recipients(organization.pk).items()]

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
