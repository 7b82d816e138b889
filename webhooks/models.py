"""Outbound webhooks: where an organization wants to hear about changes, and what was sent there.

An :class:`Endpoint` is a URL with the event types it wants and a signing secret (encrypted, shown once). Each event
is one :class:`Message` (the body signed per the Standard Webhooks specification, with its ``msg_…`` id); each
endpoint that wants it gets one :class:`Delivery` of it, retried with backoff, and each HTTP request made for it is an
:class:`Attempt`. Two bookkeeping tables feed the messages (``webhooks.relay``): :class:`RelayState`, how far the
audit log was read, and :class:`EnrollmentState`, the enrollment status last announced for each device.
"""

import base64
import secrets
import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import decrypt, encrypt
from core.tenancy import TenantModel

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64 (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class Endpoint(TenantModel):
    """A URL of the organization's that receives the events it subscribed to, signed with its own secret.

    Lifecycle: enabled, or disabled (``disabled_at`` and ``disabled_reason``) by a person or automatically after
    repeated failures (``consecutive_failures`` since ``failing_since``). A rotated secret leaves the previous one
    valid until ``previous_secret_until``: messages are signed with both meanwhile."""

    url = models.URLField(max_length=500, verbose_name=_("URL"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    event_types = models.JSONField(default=list, blank=True, help_text=_("The event types it receives"))
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, help_text=_("Failed attempts in a row"))
    failing_since = models.DateTimeField(null=True, blank=True, help_text=_("The first failure of the current run"))
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        constraints = [
            models.CheckConstraint(condition=Q(enabled=True) | Q(disabled_at__isnull=False),
                                   name="webhookendpoint_disabled_has_time"),
        ]
        indexes = [models.Index(fields=["organization", "enabled"], name="webhookendpoint_org_enabled")]

    def __str__(self):
        return self.url

    def __repr__(self):  # never a secret in a log line
        return f"<Endpoint {self.pk} {self.url}>"

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt(value)

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets each message is signed with: the current one, and the previous one while it is still valid."""
        found = [self.secret]
        if self.previous_secret_encrypted and self.previous_secret_until and \
                self.previous_secret_until > (now or timezone.now()):
            found.append(decrypt(self.previous_secret_encrypted))
        return found

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


class Message(TenantModel):
    """One event, as sent to every endpoint that wants it: ``payload`` is the body (``{type, timestamp, data}``),
    ``public_id`` the ``webhook-id`` header (the receiver's idempotency key). ``origin`` names what it came from
    (``audit:<id>``, ``sync_run:<id>``), so one change never makes the same event twice."""

    event_type = models.CharField(max_length=64)
    public_id = models.CharField(max_length=40, unique=True, editable=False)
    payload = models.JSONField()
    origin = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook message")
        constraints = [
            models.UniqueConstraint(fields=["organization", "origin", "event_type"], condition=~Q(origin=""),
                                    name="webhookmessage_one_per_origin"),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="webhookmessage_org_created")]

    def __str__(self):
        return f"{self.event_type} {self.public_id}"

    @staticmethod
    def new_public_id() -> str:
        return f"msg_{uuid.uuid4().hex}"


class Delivery(TenantModel):
    """One message to one endpoint. ``pending`` until it answers 2xx (``succeeded``) or the last try of its round
    failed, or its endpoint was disabled (``failed``). ``next_attempt_at``: when a pending delivery is due (while a
    worker sends it, the end of its claim). ``attempts`` numbers every try; ``round_attempts`` counts the tries since
    it was created or last redelivered, which set the backoff and the limit."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    round_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message"], name="webhookdelivery_one_per_endpoint"),
            models.CheckConstraint(condition=~Q(status="succeeded") | Q(delivered_at__isnull=False),
                                   name="webhookdelivery_succeeded_has_time"),
            models.CheckConstraint(condition=~Q(status="failed") | Q(failed_at__isnull=False),
                                   name="webhookdelivery_failed_has_time"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "next_attempt_at"], name="webhookdelivery_org_due"),
            models.Index(fields=["organization", "-created_at"], name="webhookdelivery_org_created"),
            models.Index(fields=["endpoint", "status"], name="webhookdelivery_endpoint"),
        ]

    def __str__(self):
        return f"{self.message.event_type} {self.message.public_id} → {self.endpoint.url}"


class Attempt(TenantModel):
    """One HTTP request of a delivery: what the endpoint answered (its status and the start of its body), or why
    nothing was sent or received, how long it took, and when the next try was set for."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=500)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text=_("The retry this failure scheduled"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook attempt")
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique_number")]

    def __str__(self):
        return f"Attempt {self.number} of delivery {self.delivery_id}"


class RelayState(models.Model):
    """How far the audit log was read for webhooks (one row, ``webhooks.relay``): every entry up to ``audit_mark``
    was read, except the ids in ``pending`` (``[[first, last, first seen], …]``): taken by transactions not yet
    committed when the reader passed (or rolled back), read when they show up, forgotten after an hour."""

    name = models.CharField(max_length=20, unique=True, default="audit")
    audit_mark = models.BigIntegerField(default=0)
    pending = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} read up to {self.audit_mark}"


class EnrollmentState(TenantModel):
    """The enrollment status last announced for a device (``device.enrollment_changed``). Kept for the organizations
    with an endpoint that wants the event; a device first seen is recorded without an event."""

    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE, related_name="webhook_enrollment")
    enrollment_status = models.CharField(max_length=30)

    def __str__(self):
        return f"{self.device_id}: {self.enrollment_status}"
