"""Reads of webhooks that the API and the cockpit share."""

from django.db.models import Count, Prefetch, Q

from webhooks.models import Attempt, Delivery, Endpoint


def endpoint_list(*, organization):
    """The organization's endpoints, each with its counts of pending and failed deliveries."""
    return Endpoint.objects.for_org(organization).annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
        failed_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
    ).order_by("-created_at", "-id")


def delivery_list(*, organization, with_attempts: bool = True):
    """The delivery log, newest first, with each delivery's endpoint, message and (optionally) attempts."""
    deliveries = Delivery.objects.for_org(organization).select_related("endpoint", "message").order_by(
        "-created_at", "-id")
    if with_attempts:
        deliveries = deliveries.prefetch_related(
            Prefetch("attempt_log", queryset=Attempt.objects.order_by("-number")))
    return deliveries
