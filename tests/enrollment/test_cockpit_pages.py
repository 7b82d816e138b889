"""Cockpit pages of enrollment: the readiness checklist and exemption on the device page, the troubleshooting
view with its fix-instruction e-mails, and the inventory's readiness filter."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Employee, Membership
from devices.models import Device, EnrollmentStatus
from enrollment.models import Invitation
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory


def steps_of(content: bytes) -> dict:
    import re

    return dict(re.findall(r'data-step="(\w+)" data-done="(\w+)"', content.decode()))


@pytest.mark.parametrize("activated, assigned, expected", [
    (False, False, {"activation": "false", "user_assignment": "false"}),
    (True, False, {"activation": "true", "user_assignment": "false"}),
    (False, True, {"activation": "false", "user_assignment": "true"}),  # either order
    (True, True, {"activation": "true", "user_assignment": "true"}),
])
def test_readiness_checklist(cockpit_client, org, employee, activated, assigned, expected):
    fields = {"mdm_enrolled_at": timezone.now() if activated else None}
    if assigned:
        fields |= {"assignee": employee, "availability_status": "in_use", "assignment_status": "assigned"}
    device = DeviceFactory(organization=org, **fields)
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk]))
    assert page.status_code == 200 and b"Enrollment readiness" in page.content
    assert steps_of(page.content) == expected


def test_auto_assignment_note_is_shown(cockpit_client, org):
    device = DeviceFactory(organization=org, auto_assignment_note="Mismatch: the installer names a@x but b@x")
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk]))
    assert b"Not assigned automatically" in page.content and b"Mismatch" in page.content


def test_exemption_toggle(cockpit_client, org, device):
    url = reverse("device_exemption", args=[org.slug, device.pk])
    assert cockpit_client.post(url, {"exempt": "1"}).status_code == 302
    assert Device.objects.get(pk=device.pk).auto_unenroll_exempt
    assert AuditEvent.objects.for_org(org).filter(event="enrollment.exemption_changed").count() == 1
    cockpit_client.post(url, {"exempt": "0"})
    assert not Device.objects.get(pk=device.pk).auto_unenroll_exempt


def test_viewer_cannot_exempt(client, org, device):
    client.force_login(member(org, Membership.Role.VIEWER))
    assert client.post(reverse("device_exemption", args=[org.slug, device.pk]), {"exempt": "1"}).status_code == 403
    assert not Device.objects.get(pk=device.pk).auto_unenroll_exempt


def test_inventory_filters_on_readiness(cockpit_client, org):
    DeviceFactory(organization=org, name="waiting-owner", enrollment_status=EnrollmentStatus.AWAITING_USER_ASSIGNMENT)
    DeviceFactory(organization=org, name="waiting-activation", enrollment_status=EnrollmentStatus.AWAITING_ACTIVATION)
    page = cockpit_client.get(reverse("device_list", args=[org.slug]),
                              {"enrollment_status": "awaiting_user_assignment"})
    assert b"waiting-owner" in page.content and b"waiting-activation" not in page.content


@pytest.fixture
def broken(org):
    ada = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada")
    bob = EmployeeFactory(organization=org, email="bob@acme.test", full_name="Bob")
    common = {"availability_status": "in_use", "assignment_status": "assigned",
              "enrollment_status": EnrollmentStatus.PARTIALLY_ENROLLED}
    return {
        "agent": DeviceFactory(organization=org, name="ada-agent", assignee=ada, enrollment_issues=["agent_missing"],
                               **common),
        "offline": DeviceFactory(organization=org, name="bob-offline", assignee=bob,
                                 enrollment_issues=["offline", "agent_missing"], **common),
        "apns": DeviceFactory(organization=org, name="ada-apns", assignee=ada,
                              enrollment_issues=["apns_certificate_expired"], **common),
        "nobody": DeviceFactory(organization=org, name="nobody-agent", enrollment_issues=["agent_missing"],
                                enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED),
        "fine": DeviceFactory(organization=org, name="fine-device", enrollment_status=EnrollmentStatus.ENROLLED),
    }


def test_troubleshooting_groups_devices_by_issue(cockpit_client, org, broken):
    page = cockpit_client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
    agent = page[page.index('id="issue-agent_missing"'):page.index('id="issue-offline"')]
    assert "ada-agent" in agent and "bob-offline" in agent and "nobody-agent" in agent
    assert "bob-offline" in page[page.index('id="issue-offline"'):]
    assert 'id="issue-apns_certificate_expired"' in page and "fine-device" not in page


def test_send_fix_instructions_single_and_bulk(cockpit_client, org, broken, django_capture_on_commit_callbacks):
    url = reverse("troubleshooting_send", args=[org.slug])
    with django_capture_on_commit_callbacks(execute=True):
        assert cockpit_client.post(url, {"device": [broken["agent"].pk]}).status_code == 302
    (message,) = mail.outbox
    assert message.to == ["ada@acme.test"] and "ada-agent" in message.subject
    assert "download the agent again" in message.body and "/enroll/acme/" in message.body
    assert message.alternatives and "/enroll/acme/" in message.alternatives[0][0]

    with django_capture_on_commit_callbacks(execute=True):
        cockpit_client.post(url, {"device": [broken["offline"].pk, broken["apns"].pk, broken["nobody"].pk]})
    assert [m.to for m in mail.outbox[1:]] == [["bob@acme.test"]]  # admin-only issue and no owner: skipped
    assert "Connect the device to the internet" in mail.outbox[1].body
    assert Invitation.objects.filter(kind="fix_instructions").count() == 2
    assert AuditEvent.objects.for_org(org).filter(event="enrollment.fix_instructions_sent").count() == 2


def test_fix_instructions_skip_offboarded_owner(cockpit_client, org, broken, django_capture_on_commit_callbacks):
    Employee.objects.filter(email="ada@acme.test").update(status=Employee.Status.OFFBOARDED)
    with django_capture_on_commit_callbacks(execute=True):
        cockpit_client.post(reverse("troubleshooting_send", args=[org.slug]), {"device": [broken["agent"].pk]})
    assert not mail.outbox


def test_fix_instructions_for_another_orgs_device_send_nothing(cockpit_client, org, other_org):
    foreign = DeviceFactory(organization=other_org, enrollment_issues=["agent_missing"])
    cockpit_client.post(reverse("troubleshooting_send", args=[org.slug]), {"device": [foreign.pk]})
    assert not mail.outbox and not Invitation.objects.exists()


def test_viewer_reads_troubleshooting_but_cannot_send(client, org, broken):
    client.force_login(member(org, Membership.Role.VIEWER))
    page = client.get(reverse("troubleshooting", args=[org.slug]))
    assert page.status_code == 200 and b"Send the fix instructions" not in page.content
    assert client.post(reverse("troubleshooting_send", args=[org.slug]), {"device": [broken["agent"].pk]}
                       ).status_code == 403


def test_installer_downloaded_but_no_device_after_24_hours(cockpit_client, org):
    from datetime import timedelta

    from enrollment.models import InstallerDownload

    stalled = EmployeeFactory(organization=org, full_name="Stalled Sam")
    fresh = EmployeeFactory(organization=org, full_name="Fresh Fay")
    done = EmployeeFactory(organization=org, full_name="Done Dan")
    day_ago = timezone.now() - timedelta(hours=25)
    for employee, when in ((stalled, day_ago), (fresh, timezone.now()), (done, day_ago)):
        download = InstallerDownload.objects.create(organization=org, employee=employee, platform="macos",
                                                    format="sh", backend="bootstrap", filename="x.sh")
        InstallerDownload.objects.filter(pk=download.pk).update(created_at=when)
    DeviceFactory(organization=org, assignee=done, availability_status="in_use", assignment_status="assigned",
                  mdm_enrolled_at=timezone.now())
    page = cockpit_client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
    section = page[page.index('id="stalled-enrollments"'):]
    assert "Stalled Sam" in section and "Fresh Fay" not in section and "Done Dan" not in section
    assert "Send a reminder" in section


def test_fix_instructions_from_the_device_page(cockpit_client, org, broken, django_capture_on_commit_callbacks):
    device = broken["agent"]
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk]))
    assert b'id="send-fix"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = cockpit_client.post(reverse("troubleshooting_send", args=[org.slug]),
                                       {"device": device.pk, "back": "device"})
    assert response["Location"] == reverse("device_detail", args=[org.slug, device.pk])
    assert [m.to for m in mail.outbox] == [["ada@acme.test"]]
    admin_only = cockpit_client.get(reverse("device_detail", args=[org.slug, broken["apns"].pk]))
    assert b'id="send-fix"' not in admin_only.content
