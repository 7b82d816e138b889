"""Reads of enrollment that more than one caller needs; each starts from the organization."""

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from core.models import Employee
from devices.issues import ISSUE_HELP
from devices.models import AvailabilityStatus, Device, EnrollmentIssue, EnrollmentStatus, Usage
from enrollment.models import AutoUnenrollRun, InstallerDownload, Invitation, InvitationBatch


def invitations_of(*, employee: Employee):
    return Invitation.objects.for_org(employee.organization).filter(employee=employee)


def installer_downloads_of(*, employee: Employee):
    return InstallerDownload.objects.for_org(employee.organization).filter(employee=employee)


def employee_devices(*, organization, employee: Employee):
    """The devices an employee holds, as their enrollment page lists them."""
    return (Device.objects.for_org(organization).filter(assignee=employee)
            .exclude(availability_status=AvailabilityStatus.ARCHIVED).order_by("name", "id"))


def employees_not_enrolled(*, organization):
    """Active employees who hold no device that is enrolled in the MDM right now."""
    enrolled = Device.objects.filter(
        organization=organization, assignee=OuterRef("pk"), mdm_enrolled_at__isnull=False, unenrolled_at__isnull=True,
    ).exclude(availability_status=AvailabilityStatus.ARCHIVED)
    return (Employee.objects.for_org(organization).filter(status=Employee.Status.ACTIVE)
            .exclude(Exists(enrolled)).order_by("full_name", "email", "id"))


def troubleshooting_groups(*, organization) -> list[tuple]:
    """Partially enrolled devices grouped by issue: [(IssueHelp, [devices])], in the issues' order.

    A device with two issues appears under both."""
    devices = list(
        Device.objects.for_org(organization).filter(enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED)
        .exclude(availability_status=AvailabilityStatus.ARCHIVED).select_related("assignee").order_by("name", "id")
    )
    groups = []
    for code in EnrollmentIssue.values:
        members = [device for device in devices if code in device.enrollment_issues]
        if members:
            groups.append((ISSUE_HELP[code], members))
    return groups


def auto_unenroll_runs(*, organization):
    return AutoUnenrollRun.objects.for_org(organization)


def readiness_steps(device: Device) -> list[dict]:
    """DESIGN §3: activation and user assignment complete in either order; ``enrolled`` needs both."""
    shared = device.usage == Usage.SHARED
    activated = device.mdm_enrolled_at is not None and device.unenrolled_at is None
    if device.assignee_id:
        owner = gettext("Assigned to %(display_name)s") % {"display_name": device.assignee.display_name}
    else:
        owner = gettext("Shared device: no owner needed") if shared else gettext("Waiting for an owner")
    return [
        {"key": "activation", "title": gettext("Device activation"), "done": activated,
         "detail": gettext("Enrolled in the MDM") if activated
         else gettext("Waiting for the device to enroll in the MDM")},
        {"key": "user_assignment", "title": gettext("User assignment"),
         "done": device.assignee_id is not None or shared, "detail": owner},
    ]


STALLED_AFTER = timedelta(hours=24)


def stalled_enrollments(*, organization, now=None) -> list[dict]:
    """DESIGN §3 ``enrollment_incomplete`` before any device exists: active employees who downloaded an
    installer more than 24 hours ago and hold no device enrolled since. [{employee, downloaded_at}]"""
    now = now or timezone.now()
    enrolled_since = Device.objects.filter(
        organization=organization, assignee=OuterRef("pk"), mdm_enrolled_at__isnull=False,
        unenrolled_at__isnull=True, mdm_enrolled_at__gte=OuterRef("last_download"),
    )
    employees = (
        Employee.objects.for_org(organization).filter(status=Employee.Status.ACTIVE)
        .annotate(last_download=Subquery(
            InstallerDownload.objects.filter(employee=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
        ))
        .filter(last_download__lt=now - STALLED_AFTER)
        .exclude(Exists(enrolled_since)).order_by("last_download", "id")
    )
    return [{"employee": employee, "downloaded_at": employee.last_download} for employee in employees[:200]]


ABANDONED_SHOWN_FOR = timedelta(hours=24)


def bulk_sends_in_progress(*, organization, kind: str):
    """Bulk sends of this kind still being sent (the sweep keeps none running for ever), with ``sent``."""
    return (InvitationBatch.objects.for_org(organization)
            .filter(kind=kind, status=InvitationBatch.Status.RUNNING)
            .annotate(sent=Count("invitations")).order_by("created_at", "id"))


def bulk_sends_abandoned(*, organization, kind: str, now=None):
    """Bulk sends of this kind abandoned in the last day (their worker kept stopping), with ``sent``."""
    now = now or timezone.now()
    return (InvitationBatch.objects.for_org(organization)
            .filter(kind=kind, status=InvitationBatch.Status.ABANDONED, abandoned_at__gte=now - ABANDONED_SHOWN_FOR)
            .annotate(sent=Count("invitations")).order_by("abandoned_at", "id"))
