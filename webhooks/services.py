"""Changes to webhook endpoints and deliveries: each keyword-only, taking ``actor``, in one transaction, audited.

An endpoint's secret is made here and returned once (creation, rotation); only its encryption is stored. A URL is
checked when it is saved (``webhooks.transport``: public addresses only, unless private targets are allowed) and
again before each request.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.actors import Actor
from core.audit import audit_record
from core.crypto import encrypt
from core.errors import IllegalTransition, InvalidInput
from webhooks import outbox, sender, transport
from webhooks.enrollment import enrollment_subscriptions_changed
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Endpoint, Message, generate_secret
from webhooks.payloads import ping_event
from webhooks.relay import relay_start

PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
EDITABLE = ("url", "description", "event_types", "enabled")


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 500:
        raise InvalidInput(_("Keep the URL under 500 characters."), field="url")
    try:
        transport.check_url(url)
    except transport.TargetRefused as exc:
        raise InvalidInput(str(exc), field="url") from exc
    return url


def _clean_event_types(event_types) -> list[str]:
    chosen = list(dict.fromkeys(event_types or []))
    unknown = [event_type for event_type in chosen if event_type not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(_("Unknown event type: %(types)s. Use %(known)s.") % {
            "types": ", ".join(map(str, unknown)), "known": ", ".join(EVENT_TYPES)}, field="event_types")
    if not chosen:
        raise InvalidInput(_("Choose at least one event type."), field="event_types")
    return [event_type for event_type in EVENT_TYPES if event_type in chosen]  # in the registry's order


def _snapshot(endpoint: Endpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description, "event_types": list(endpoint.event_types),
            "enabled": endpoint.enabled}


@transaction.atomic
def endpoint_create(*, organization, actor: Actor, url: str, event_types, description: str = "",
                    enabled: bool = True) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (``whsec_…``), which is returned here and never shown again."""
    secret = generate_secret()
    now = timezone.now()
    endpoint = Endpoint(organization=organization, url=_clean_url(url), description=(description or "").strip(),
                        event_types=_clean_event_types(event_types), enabled=bool(enabled),
                        disabled_at=None if enabled else now,
                        disabled_reason="" if enabled else _("Created disabled by %(actor)s.") % {"actor": actor.label},
                        created_by_label=actor.label[:200])
    endpoint.secret = secret
    endpoint.save()
    enrollment_subscriptions_changed(organization_id=organization.pk)
    audit_record(organization=organization, actor=actor, event="webhook_endpoint.created", target=endpoint,
                 after=_snapshot(endpoint))
    relay_start()  # the first endpoint: the audit log is read from here on
    return endpoint, secret


def _lock(endpoint: Endpoint) -> Endpoint:
    return Endpoint.objects.select_for_update().select_related("organization").get(
        pk=endpoint.pk, organization_id=endpoint.organization_id)


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, actor: Actor, **fields) -> Endpoint:
    """Change the URL, description, event types, or ``enabled`` (enabling clears the failure count; disabling by
    hand fails the waiting deliveries, which can be redelivered later)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(_("Unknown field: %(fields)s") % {"fields": ", ".join(sorted(unknown))},
                           field=sorted(unknown)[0])
    locked = _lock(endpoint)
    before = _snapshot(locked)
    if "url" in fields and fields["url"] != locked.url:
        locked.url = _clean_url(fields["url"])
    if "description" in fields:
        locked.description = (fields["description"] or "").strip()[:200]
    if "event_types" in fields:
        locked.event_types = _clean_event_types(fields["event_types"])
    enabled = fields.get("enabled", locked.enabled)
    now = timezone.now()
    if enabled and not locked.enabled:
        locked.enabled, locked.disabled_at, locked.disabled_reason = True, None, ""
        locked.consecutive_failures, locked.failing_since = 0, None
    elif not enabled and locked.enabled:
        locked.enabled, locked.disabled_at = False, now
        locked.disabled_reason = _("Disabled by %(actor)s.") % {"actor": actor.label}
        sender.deliveries_fail_waiting(endpoint=locked, now=now, why=_("The endpoint was disabled."))
    after = _snapshot(locked)
    if after == before:
        return locked
    locked.save()
    enrollment_subscriptions_changed(organization_id=locked.organization_id)
    changed = {key for key in after if after[key] != before[key]}
    if changed == {"enabled"}:
        event = "webhook_endpoint.enabled" if locked.enabled else "webhook_endpoint.disabled"
        audit_record(organization=locked.organization, actor=actor, event=event, target=locked,
                     before={"enabled": before["enabled"]},
                     after={"enabled": locked.enabled, "reason": locked.disabled_reason})
    else:
        audit_record(organization=locked.organization, actor=actor, event="webhook_endpoint.updated", target=locked,
                     before={key: before[key] for key in changed}, after={key: after[key] for key in changed})
    return locked


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, actor: Actor) -> None:
    """Delete an endpoint with its deliveries and their attempts."""
    locked = _lock(endpoint)
    organization, snapshot = locked.organization, _snapshot(locked)
    audit_record(organization=organization, actor=actor, event="webhook_endpoint.deleted", target=locked,
                 before=snapshot)
    locked.delete()
    enrollment_subscriptions_changed(organization_id=organization.pk)


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint, actor: Actor) -> tuple[Endpoint, str]:
    """A new secret, returned once. The previous one stays valid for 24 hours (each message carries both
    signatures meanwhile), so the receiver can switch without missing an event."""
    locked = _lock(endpoint)
    now = timezone.now()
    secret = generate_secret()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_until = now + PREVIOUS_SECRET_VALIDITY
    locked.secret_encrypted = encrypt(secret)
    locked.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_until",
                               "updated_at"])
    audit_record(organization=locked.organization, actor=actor, event="webhook_endpoint.secret_rotated",
                 target=locked, after={"previous_valid_until": locked.previous_secret_until.isoformat()})
    return locked, secret


def endpoint_ping(*, endpoint: Endpoint, actor: Actor) -> Delivery:
    """Send a ``ping`` to the endpoint now (enabled or not: it checks a fix before enabling) and return its delivery
    with the outcome. Tried once; it never counts against the endpoint."""
    with transaction.atomic():
        locked = _lock(endpoint)
        event = ping_event(locked, timezone.now())
        message = Message.objects.create(organization=locked.organization, event_type=event.type,
                                         public_id=Message.new_public_id(), payload=event.envelope(),
                                         occurred_at=event.occurred_at)
        # Not due for the periodic sender: this request sends it, right after the commit.
        delivery = Delivery.objects.create(organization=locked.organization, endpoint=locked, message=message,
                                           next_attempt_at=event.occurred_at + sender.claim_period())
    result = sender.delivery_attempt(delivery_id=delivery.pk, now=timezone.now(), force=True)
    delivery.refresh_from_db()
    text = _("delivered (HTTP %(status)s)") % {"status": delivery.last_status_code} if result == "delivered" else \
        delivery.last_error or _("not sent")
    audit_record(organization=locked.organization, actor=actor, event="webhook_endpoint.tested", target=locked,
                 after={"result": text[:200], "ok": result == "delivered", "delivery": delivery.pk})
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Send a delivery again (a failed one, or one delivered that the receiver lost): pending and due now, with a
    fresh round of retries. Its endpoint must be enabled."""
    locked = (Delivery.objects.select_for_update(of=("self",)).select_related("endpoint", "message", "organization")
              .get(pk=delivery.pk, organization_id=delivery.organization_id))
    if not locked.endpoint.enabled:
        raise IllegalTransition(_("The endpoint %(url)s is disabled: enable it first, then redeliver.")
                                % {"url": locked.endpoint.url})
    if locked.message.event_type == "ping":
        raise IllegalTransition(_("A test event is not redelivered: send a new one from the endpoint."))
    before = {"status": locked.status, "attempts": locked.attempts}
    now = timezone.now()
    locked.status, locked.round_attempts, locked.next_attempt_at, locked.failed_at, locked.delivered_at = (
        Delivery.Status.PENDING, 0, now, None, None)
    locked.save(update_fields=["status", "round_attempts", "next_attempt_at", "failed_at", "delivered_at",
                               "updated_at"])
    audit_record(organization=locked.organization, actor=actor, event="webhook_delivery.redelivered", target=locked,
                 before=before, after={"status": locked.status})
    organization_id = locked.organization_id
    transaction.on_commit(lambda: outbox.queue_sending(organization_id))
    return locked
