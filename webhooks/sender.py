"""Sending deliveries: signed per the Standard Webhooks specification, retried with backoff, endpoints that keep
failing disabled (and their owners told).

Each request carries ``webhook-id`` (the message's ``msg_…`` id: the same on every retry, the receiver's idempotency
key), ``webhook-timestamp`` (this attempt's time) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``, made by the ``standardwebhooks`` package; two signatures, space-separated, while a rotated
secret's predecessor is still valid). The body is the message's payload as compact JSON, the same bytes each time.

A delivery is claimed before it is sent (:func:`claim_period`): a redelivered task or a second worker leaves it
alone, and a worker that dies holding it lets the claim lapse, then the periodic job sends it. An answer other than
2xx, a timeout or a refused connection is a failure: retried after ``core.dispatch.retry_delay`` (30 s, then three
times longer each time, at most 6 h) until ``WEBHOOKS_MAX_ATTEMPTS`` tries; an endpoint that failed
``WEBHOOKS_DISABLE_AFTER_FAILURES`` times in a row over at least ``WEBHOOKS_DISABLE_AFTER_HOURS`` is disabled, its
waiting deliveries fail, and the organization's owners get an e-mail. A ping (the test button) is tried once and
never counts against its endpoint.
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from core.actors import Actor
from core.audit import audit_record
from core.crypto import SecretUnreadable
from core.dispatch import retry_delay
from webhooks import emails, transport
from webhooks.enrollment import enrollment_subscriptions_changed
from webhooks.events import PING
from webhooks.models import Attempt, Delivery, Endpoint

logger = logging.getLogger(__name__)

RUN_LIMIT = 500  # deliveries a sender run tries; it asks for another run when more are due
BACKOFF_FIRST, BACKOFF_LONGEST = timedelta(seconds=30), timedelta(hours=6)
SYSTEM = Actor.system("webhooks")


def claim_period() -> timedelta:
    """How long a claimed delivery is left alone: far longer than its request may take."""
    return timedelta(seconds=max(120.0, 3 * float(getattr(settings, "WEBHOOKS_TIMEOUT_SECONDS", 10))))


def max_attempts() -> int:
    return int(getattr(settings, "WEBHOOKS_MAX_ATTEMPTS", 8))


def backoff(round_attempts: int) -> timedelta:
    """30 s, 90 s, 4.5 min, 13.5 min, 40 min, 2 h, then 6 h between tries."""
    return retry_delay(round_attempts, first=BACKOFF_FIRST, longest=BACKOFF_LONGEST)


def body_of(payload: dict) -> bytes:
    """The bytes signed and sent: compact JSON, keys in a fixed order, so every retry sends the same body."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signed_headers(*, endpoint: Endpoint, message_id: str, body: bytes, now: datetime) -> dict[str, str]:
    signatures = [Webhook(secret).sign(message_id, now, body) for secret in endpoint.signing_secrets(now)]
    return {"Content-Type": "application/json", "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": " ".join(signatures)}


def _due(now: datetime) -> Q:
    return Q(status=Delivery.Status.PENDING, endpoint__enabled=True) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def organizations_with_due_deliveries(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return sorted(set(Delivery.objects.filter(_due(now)).values_list("organization_id", flat=True)))


def deliveries_send_due(*, organization, now: datetime | None = None) -> dict:
    """Send the organization's due deliveries, oldest first, each recorded on its own. An endpoint that fails is not
    tried again in this run (its other deliveries wait for their turn): a dead endpoint costs one timeout a run."""
    now = now or timezone.now()
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "skipped": 0, "more": False}
    due = list(Delivery.objects.for_org(organization).filter(_due(now)).order_by("pk")
               .values_list("pk", "endpoint_id")[:RUN_LIMIT + 1])
    counts["more"] = len(due) > RUN_LIMIT
    failing: set[int] = set()
    for delivery_id, endpoint_id in due[:RUN_LIMIT]:
        if endpoint_id in failing:
            counts["skipped"] += 1
            continue
        outcome = delivery_attempt(delivery_id=delivery_id, now=timezone.now())
        if outcome is None:
            continue
        counts[outcome] += 1
        if outcome != "delivered":
            failing.add(endpoint_id)
    return counts


def delivery_attempt(*, delivery_id: int, now: datetime, force: bool = False) -> str | None:
    """Claim, send and record one delivery; ``delivered``, ``retrying``, ``failed``, or None when it was not due (or
    claimed by another worker). ``force``: due now whatever its time (a ping, a redelivery from the request)."""
    delivery = _claim(delivery_id, now=now, force=force)
    if delivery is None:
        return None
    endpoint, message = delivery.endpoint, delivery.message
    body = body_of(message.payload)
    try:
        headers = signed_headers(endpoint=endpoint, message_id=message.public_id, body=body, now=now)
    except SecretUnreadable as exc:
        outcome = transport.Outcome(error=str(exc)[:500])
    else:
        timeout = float(getattr(settings, "WEBHOOKS_TIMEOUT_SECONDS", 10))
        outcome = transport.post(endpoint.url, body, headers, timeout=timeout)
    return _record(delivery, outcome, now=timezone.now())


def _claim(delivery_id: int, *, now: datetime, force: bool) -> Delivery | None:
    with transaction.atomic():
        due = Q(status=Delivery.Status.PENDING) if force else _due(now)
        delivery = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("endpoint", "message").filter(due, pk=delivery_id).first())
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.round_attempts += 1
        delivery.next_attempt_at = now + claim_period()
        delivery.save(update_fields=["attempts", "round_attempts", "next_attempt_at", "updated_at"])
    return delivery


def _record(delivery: Delivery, outcome: transport.Outcome, *, now: datetime) -> str:
    """The attempt's outcome on the delivery and its endpoint, in one transaction."""
    ping = delivery.message.event_type == PING
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        delivery.last_attempt_at, delivery.last_status_code = now, outcome.status_code
        delivery.last_error = outcome.error or ("" if outcome.ok else _("Answered HTTP %(status)s.")
                                                % {"status": outcome.status_code})
        retry_at, disable = None, False
        if not outcome.ok and not ping:
            endpoint.consecutive_failures += 1
            endpoint.failing_since = endpoint.failing_since or now
            endpoint.last_failure_at = now
            disable = endpoint.enabled and _should_disable(endpoint, now)
        if outcome.ok:
            result = "delivered"
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = Delivery.Status.SUCCEEDED, now, None
            endpoint.consecutive_failures, endpoint.failing_since, endpoint.last_success_at = 0, None, now
        elif ping or disable or not endpoint.enabled or delivery.round_attempts >= max_attempts():
            # A ping is tried once; an endpoint disabled (now, or meanwhile) gets no retry.
            result = "failed"
            delivery.status, delivery.failed_at, delivery.next_attempt_at = Delivery.Status.FAILED, now, None
        else:
            result = "retrying"
            retry_at = delivery.next_attempt_at = now + backoff(delivery.round_attempts)
        delivery.save(update_fields=["status", "last_attempt_at", "last_status_code", "last_error", "delivered_at",
                                     "failed_at", "next_attempt_at", "updated_at"])
        Attempt.objects.create(
            organization_id=delivery.organization_id, delivery=delivery, number=delivery.attempts,
            url=endpoint.url[:500], succeeded=outcome.ok, status_code=outcome.status_code,
            response_excerpt=outcome.excerpt, error=delivery.last_error, duration_ms=outcome.duration_ms,
            next_attempt_at=retry_at)
        endpoint.save(update_fields=["consecutive_failures", "failing_since", "last_success_at", "last_failure_at",
                                     "updated_at"])
        if disable:
            endpoint_disable_failing(endpoint=endpoint, now=now)
    return result


def _should_disable(endpoint: Endpoint, now: datetime) -> bool:
    threshold = int(getattr(settings, "WEBHOOKS_DISABLE_AFTER_FAILURES", 15))
    period = timedelta(hours=float(getattr(settings, "WEBHOOKS_DISABLE_AFTER_HOURS", 24)))
    return (endpoint.consecutive_failures >= threshold and endpoint.failing_since is not None
            and now - endpoint.failing_since >= period)


def endpoint_disable_failing(*, endpoint: Endpoint, now: datetime) -> None:
    """Disable an endpoint that keeps failing (in the caller's transaction, the endpoint locked): its waiting
    deliveries fail, and the organization's owners are e-mailed once it commits."""
    reason = _("Disabled automatically: %(count)s failed attempts in a row since %(since)s (last: %(error)s).") % {
        "count": endpoint.consecutive_failures,
        "since": timezone.localtime(endpoint.failing_since).strftime("%Y-%m-%d %H:%M %Z"),
        "error": _last_error(endpoint)}
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason[:500]
    endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
    deliveries_fail_waiting(endpoint=endpoint, now=now, why=_("The endpoint was disabled."))
    enrollment_subscriptions_changed(organization_id=endpoint.organization_id)
    audit_record(organization=endpoint.organization, actor=SYSTEM, event="webhook_endpoint.disabled",
                 target=endpoint, before={"enabled": True}, after={"enabled": False, "reason": reason[:500]})
    emails.endpoint_disabled_on_commit(endpoint)
    logger.warning("Webhook endpoint %s of organization %s disabled after %s failures", endpoint.pk,
                   endpoint.organization_id, endpoint.consecutive_failures)


def _last_error(endpoint: Endpoint) -> str:
    last = Attempt.objects.filter(delivery__endpoint=endpoint, succeeded=False).order_by("-pk").first()
    return (last.error if last else "?")[:200]


def deliveries_fail_waiting(*, endpoint: Endpoint, now: datetime, why: str) -> int:
    """The endpoint's pending deliveries fail (it was disabled); each can be redelivered once it is enabled again."""
    return Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, failed_at=now, next_attempt_at=None, last_error=why[:500], updated_at=now)
