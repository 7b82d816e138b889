"""A device's enrollment status, derived by ``devices.services`` from activation, owner, usage and issues, and kept
up to date by the moves and edits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from devices import services
from devices.models import Device, EnrollmentIssue, EnrollmentStatus, Usage
from tests.devices.service_checks import device_maker

pytestmark = pytest.mark.django_db


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def make_device(org, employee):
    return device_maker(org, employee)


# --- enrollment status derivation -----------------------------------------------------------------


NOW = timezone.now()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"assignee_id": 1}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"mdm_enrolled_at": NOW}, EnrollmentStatus.AWAITING_USER_ASSIGNMENT),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1}, EnrollmentStatus.ENROLLED),
        ({"mdm_enrolled_at": NOW, "usage": Usage.SHARED}, EnrollmentStatus.ENROLLED),
        ({"usage": Usage.SHARED}, EnrollmentStatus.AWAITING_ACTIVATION),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1, "enrollment_issues": [EnrollmentIssue.AGENT_MISSING]},
         EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"enrollment_issues": [EnrollmentIssue.ENROLLMENT_INCOMPLETE]}, EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"mdm_enrolled_at": NOW, "usage": Usage.SHARED, "enrollment_issues": ["offline", "agent_inactive"]},
         EnrollmentStatus.PARTIALLY_ENROLLED),
        ({"mdm_enrolled_at": NOW, "assignee_id": 1, "unenrolled_at": NOW}, EnrollmentStatus.UNENROLLED),
        ({"unenrolled_at": NOW, "enrollment_issues": ["offline"]}, EnrollmentStatus.UNENROLLED),
    ],
    ids=[
        "nothing-yet", "owner-before-activation", "activated-no-owner", "activated-and-owned",
        "shared-activated-needs-no-owner", "shared-not-activated", "issue-beats-enrolled",
        "issue-before-activation", "shared-with-issues", "unenrolled", "unenrolled-beats-issues",
    ],
)
def test_device_enrollment_status(fields, expected):
    assert services.device_enrollment_status(Device(**fields)) == expected


def test_enrollment_status_follows_assignment(make_device, employee, actor):
    """Activation and user assignment complete in either order; ``enrolled`` needs both."""
    device = make_device("in_use_unowned", mdm_enrolled_at=timezone.now(),
                         enrollment_status=EnrollmentStatus.AWAITING_USER_ASSIGNMENT)
    services.device_assign(device=device, employee=employee, actor=actor)
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.ENROLLED
    event = AuditEvent.objects.get(event="device.assigned", target_id=str(device.pk))
    assert event.before["enrollment_status"] == "awaiting_user_assignment"
    assert event.after["enrollment_status"] == "enrolled"

    services.device_unassign(device=device, actor=actor)
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.AWAITING_USER_ASSIGNMENT


def test_enrollment_status_with_issues_survives_assignment(make_device, employee, actor):
    device = make_device("in_stock", mdm_enrolled_at=timezone.now() - timedelta(days=3),
                         enrollment_issues=["agent_missing"])
    services.device_assign(device=device, employee=employee, actor=actor)
    fresh = Device.objects.get(pk=device.pk)
    assert fresh.enrollment_status == EnrollmentStatus.PARTIALLY_ENROLLED
    assert fresh.enrollment_issues == ["agent_missing"]


def test_shared_device_is_enrolled_without_owner(org, actor):
    device = services.device_create(organization=org, actor=actor, name="kiosk-1", usage="shared")
    assert device.enrollment_status == EnrollmentStatus.AWAITING_ACTIVATION
    Device.objects.filter(pk=device.pk).update(mdm_enrolled_at=timezone.now())
    device = services.device_update(device=device, actor=actor, name="kiosk-lobby")
    assert device.enrollment_status == EnrollmentStatus.ENROLLED
    assert Device.objects.get(pk=device.pk).enrollment_status == EnrollmentStatus.ENROLLED
