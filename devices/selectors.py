"""Reads of devices that the API, the cockpit and the jobs share."""

from collections import Counter

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, OuterRef

from devices.models import Device, DeviceHistory


def device_queryset(*, organization):
    """The organization's devices with their assignee; group names come per page (:func:`with_group_names`)."""
    return Device.objects.for_org(organization).select_related("assignee", "responsible_technician")


def with_group_names(devices) -> list[Device]:
    """Sets ``group_names`` on each device from one query for the whole page (devices that have them
    already, from :func:`device_page_rows`, are left as they are).

    A ``prefetch_related("groups")`` builds a Group object per link; a list row needs only the names,
    and the tuples cost a fraction of it (measured in benchmarks/).
    """
    devices = list(devices)
    names: dict[int, list[str]] = {device.pk: [] for device in devices if not hasattr(device, "group_names")}
    if names:
        links = (
            Device.groups.through.objects.filter(device_id__in=names)
            .order_by("group__name")
            .values_list("device_id", "group__name")
        )
        for device_id, group_name in links:
            names[device_id].append(group_name)
    for device in devices:
        if device.pk in names:
            device.group_names = names[device.pk]
    return devices


# What a list row shows (the API's DeviceSerializer, the cockpit's inventory row), and nothing else: the
# Fleet facts and the other timestamps of a device cost a third of a page's decoding (benchmarks/).
LIST_FIELDS = (
    "organization", "serial_number", "name", "platform", "model", "os_version", "ownership", "usage", "notes",
    "availability_status", "assignment_status", "enrollment_status", "enrollment_issues", "assigned_at",
    "archived_at", "last_seen_at", "fleet_host_id", "fleet_uuid", "version", "created_at", "updated_at",
    "assignee", "assignee__email", "assignee__full_name",
    "responsible_technician", f"responsible_technician__{get_user_model().USERNAME_FIELD}",
)


def device_page_rows(queryset):
    """A list page's statement: only :data:`LIST_FIELDS`, and on PostgreSQL each device's group names in it
    (an ``ARRAY(SELECT …)`` column), so the page costs one round trip instead of two; elsewhere
    :func:`with_group_names` reads them."""
    queryset = queryset.only(*LIST_FIELDS)
    if connection.vendor != "postgresql":
        return queryset
    from django.contrib.postgres.expressions import ArraySubquery

    names = (
        Device.groups.through.objects.filter(device_id=OuterRef("pk")).order_by("group__name").values("group__name")
    )
    return queryset.annotate(group_names=ArraySubquery(names))


def device_get(*, organization, pk) -> Device:
    """One device of this organization, or ``Device.DoesNotExist`` (a 404 for callers)."""
    device = device_queryset(organization=organization).get(pk=pk)
    return with_group_names([device])[0]


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
    counts["not_seen_in_fleet"] = (
        Device.objects.for_org(organization).filter(fleet_missing_since__isnull=False).exclude(
            availability_status="archived").count()
    )
    return counts
