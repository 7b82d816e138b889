"""Invitations: service, e-mail, cockpit actions, API, the employee panel, and invitation on HR creation."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from core.models import AuditEvent, Employee, Membership
from core.services import employee_create, organization_update_settings
from devices import services as device_services
from devices.models import Device
from enrollment.models import Invitation
from enrollment.services import invitation_send
from tests.conftest import api_client_for, assert_error, member, token_key
from tests.factories import DeviceFactory, EmployeeFactory


def test_invitation_is_recorded_and_mailed_html_and_text(org, employee, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitation_send(employee=employee, actor=actor)
    assert (invitation.kind, invitation.reason, invitation.email) == ("invitation", "manual", "ada@acme.test")
    (message,) = mail.outbox
    assert message.to == ["ada@acme.test"]
    assert "Acme" in message.subject
    assert "/enroll/acme/" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html" and "/enroll/acme/" in html
    event = AuditEvent.objects.for_org(org).get(event="enrollment.invitation_sent")
    assert event.target_id == str(employee.pk) and event.after["kind"] == "invitation"


def test_second_invitation_is_recorded_as_resent(employee, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation_send(employee=employee, actor=actor)
        second = invitation_send(employee=employee, actor=actor)
    assert second.kind == Invitation.Kind.REINVITATION
    assert mail.outbox[1].subject.startswith("Reminder")


def test_offboarded_employee_is_not_invited(org, actor):
    gone = EmployeeFactory(organization=org, status=Employee.Status.OFFBOARDED)
    with pytest.raises(Exception, match="offboarded"):
        invitation_send(employee=gone, actor=actor)
    assert not Invitation.objects.exists() and not mail.outbox


def test_cockpit_invites_one_employee_and_shows_it_on_the_employee_page(cockpit_client, org, employee):
    response = cockpit_client.post(reverse("employee_invite", args=[org.slug, employee.pk]))
    assert response.status_code == 302
    assert Invitation.objects.filter(employee=employee).count() == 1
    page = cockpit_client.get(reverse("employee_detail", args=[org.slug, employee.pk]))
    assert b"enrollment-invitations" in page.content and b"Resend the invitation" in page.content
    assert b"Sent from the cockpit" in page.content


def test_cockpit_invites_a_selection_and_all_not_enrolled(cockpit_client, org, actor):
    ada = EmployeeFactory(organization=org, email="ada@acme.test")
    bob = EmployeeFactory(organization=org, email="bob@acme.test")
    enrolled = EmployeeFactory(organization=org, email="enrolled@acme.test")
    EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    device = DeviceFactory(organization=org)
    device_services.device_assign(device=device, employee=enrolled, actor=actor)
    Device.objects.filter(pk=device.pk).update(mdm_enrolled_at=timezone.now())

    url = reverse("invitation_list", args=[org.slug])
    page = cockpit_client.get(url)
    assert b"ada@acme.test" in page.content and b"enrolled@acme.test" not in page.content
    assert b"gone@acme.test" not in page.content

    cockpit_client.post(url, {"employee": [ada.pk]})
    assert list(Invitation.objects.values_list("employee__email", flat=True)) == ["ada@acme.test"]
    cockpit_client.post(url, {"scope": "all_not_enrolled"})
    invited = sorted(Invitation.objects.values_list("employee__email", "kind"))
    assert invited == [("ada@acme.test", "invitation"), ("ada@acme.test", "reinvitation"),
                       ("bob@acme.test", "invitation")]
    assert bob.invitations.count() == 1


def test_viewer_cannot_invite(client, org, employee):
    client.force_login(member(org, Membership.Role.VIEWER))
    assert client.post(reverse("employee_invite", args=[org.slug, employee.pk])).status_code == 403
    assert client.post(reverse("invitation_list", args=[org.slug]), {"scope": "all_not_enrolled"}).status_code == 403
    assert not Invitation.objects.exists()


def test_api_invite(api, org, employee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/employees/{employee.pk}/invite/", format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "invitation" and body["reason"] == "api" and body["employee"]["email"] == "ada@acme.test"
    assert len(mail.outbox) == 1
    event = AuditEvent.objects.for_org(org).get(event="enrollment.invitation_sent")
    assert event.actor_type == "token"


def test_api_invite_refuses_a_body_other_org_and_offboarded(api, org, other_org, read_api):
    foreign = EmployeeFactory(organization=other_org)
    assert_error(api.post(f"/api/v1/employees/{foreign.pk}/invite/", format="json"), 404, code="not_found")
    gone = EmployeeFactory(organization=org, status=Employee.Status.OFFBOARDED)
    assert_error(api.post(f"/api/v1/employees/{gone.pk}/invite/", format="json"), 400, field="employee")
    ada = EmployeeFactory(organization=org)
    assert_error(api.post(f"/api/v1/employees/{ada.pk}/invite/", {"x": 1}, format="json"), 400, field="x")
    assert_error(read_api.post(f"/api/v1/employees/{ada.pk}/invite/", format="json"), 403)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("enabled, via_api, invited", [(True, True, 1), (False, True, 0), (True, False, 0)])
def test_invitation_when_hr_creates_an_employee(org, enabled, via_api, invited, django_capture_on_commit_callbacks):
    organization_update_settings(organization=org, actor=Actor.system("tests"), invite_employees_on_create=enabled)
    if via_api:
        client = api_client_for(token_key(org))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/employees/", {"email": "new@acme.test"}, format="json")
        assert response.status_code == 201
    else:
        with django_capture_on_commit_callbacks(execute=True):
            employee_create(organization=org, actor=Actor.for_user(member(org)), email="new@acme.test")
    assert Invitation.objects.filter(reason="on_create").count() == invited
    assert len(mail.outbox) == invited
