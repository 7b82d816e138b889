"""Reads of devices that the API, the cockpit and the jobs share."""

from collections import Counter

from django.db.models import Count

from devices.models import Device, DeviceHistory


def device_queryset(*, organization):
    """The organization's devices with what a list row shows, in a constant number of queries."""
    return Device.objects.for_org(organization).select_related("assignee").prefetch_related("groups")


def device_get(*, organization, pk) -> Device:
    """One device of this organization, or ``Device.DoesNotExist`` (a 404 for callers)."""
    return device_queryset(organization=organization).select_related("responsible_technician").get(pk=pk)


def device_history(*, device: Device):
    return DeviceHistory.objects.for_org(device.organization).filter(device=device).select_related(
        "assignee_before", "assignee_after"
    )


def device_status_counts(*, organization) -> dict[str, Counter]:
    """Counts per availability, assignment, enrollment status and platform, from one grouped query."""
    rows = (
        Device.objects.for_org(organization)
        .values_list("availability_status", "assignment_status", "enrollment_status", "platform")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {"availability": Counter(), "assignment": Counter(), "enrollment": Counter(), "platform": Counter()}
    for availability, assignment, enrollment, platform, n in rows:
        counts["availability"][availability] += n
        if assignment:
            counts["assignment"][f"{availability}:{assignment}"] += n
        if availability != "archived":
            counts["enrollment"][enrollment] += n
            counts["platform"][platform] += n
    counts["total"] = sum(counts["availability"].values())
    return counts
