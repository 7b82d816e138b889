"""Reads of devices that the API, the cockpit and the jobs share."""

from collections import Counter

from django.db.models import Count, Q

from core.selectors import LOOKUP_LIMIT, lookup_id, lookup_rank, lookup_text
from devices.models import Device, DeviceCommand, DeviceHistory


def device_queryset(*, organization):
    """The organization's devices with their assignee; group names come per page (:func:`with_group_names`).
    The device list's pages are ``devices.listing``'s own SQL."""
    return Device.objects.for_org(organization).select_related("assignee", "responsible_technician")


def device_choice(device: Device) -> dict:
    """How a picker names a device: its name (its serial when nameless), the serial and platform beside it."""
    label = device.name or device.serial_number or f"#{device.pk}"
    serial = device.serial_number if device.name else ""
    detail = " · ".join(filter(None, [serial, device.get_platform_display()]))
    return {"id": device.pk, "label": label, "detail": detail}


def device_choices(*, organization, query, limit: int = LOOKUP_LIMIT) -> list[dict]:
    """At most ``limit`` of the organization's devices whose name or serial number holds ``query`` (or whose id
    it is), those starting with it first, then by name; one query."""
    text = lookup_text(query)
    devices = Device.objects.for_org(organization).only("id", "name", "serial_number", "platform")
    ordering = ["name", "serial_number", "id"]
    if text:
        match = Q(name__icontains=text) | Q(serial_number__icontains=text)
        if (pk := lookup_id(text)) is not None:
            match |= Q(pk=pk)
        devices = devices.filter(match).annotate(rank=lookup_rank(text, "name", "serial_number"))
        ordering.insert(0, "rank")
    return [device_choice(device) for device in devices.order_by(*ordering)[:limit]]


def with_group_names(devices) -> list[Device]:
    """Sets ``group_names`` on each device from one query for the whole page (devices that have them
    already are left as they are).

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


def device_commands(*, device: Device, limit: int = 5) -> list[DeviceCommand]:
    """The device's latest wipes and removals from Fleet, newest first (the device page's panel)."""
    return list(
        DeviceCommand.objects.for_org(device.organization).filter(device=device)
        .select_related("hand_over_to").order_by("-pk")[:limit]
    )


def latest_commands(*, device: Device) -> dict[str, DeviceCommand | None]:
    """The newest command of each kind, ``{"wipe": …, "remove": …}`` (the API's ``wipe`` and ``fleet_removal``)."""
    latest: dict[str, DeviceCommand | None] = dict.fromkeys(DeviceCommand.Kind.values)
    for command in device_commands(device=device, limit=20):
        latest[command.kind] = latest[command.kind] or command
    return latest
