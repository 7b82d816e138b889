"""Regressions found by walking the enrollment pages in a browser (QA pass)."""

import pytest
from django.test import TestCase
from django.urls import reverse

from core.models import Membership
from devices.models import EnrollmentStatus
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace")


def test_a_wrong_code_says_so_once(client, org, ada):
    """The code form printed its non-field errors twice (its own block and ``as_div``)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("enroll_signin", kwargs={"enroll_slug": org.slug}), {"email": ada.email})
    response = client.post(reverse("enroll_code", kwargs={"enroll_slug": org.slug}),
                           {"email": ada.email, "code": "000000"})
    assert response.status_code == 400
    message = response.context["form"].non_field_errors()[0]
    assert response.content.decode().count(message) == 1


def test_viewers_get_no_selection_boxes_and_nobody_an_empty_invite_all(client, org, admin_user):
    client.force_login(admin_user)
    url = reverse("invitation_list", args=[org.slug])
    assert "Invite all" not in client.get(url).content.decode()  # nobody to invite: no "Invite all 0"
    EmployeeFactory(organization=org, email="new@acme.test")
    assert "Invite all 1 not yet enrolled" in client.get(url).content.decode()
    owner = EmployeeFactory(organization=org, email="owner@acme.test")
    DeviceFactory(organization=org, name="broken", assignee=owner, assignment_status="assigned",
                  availability_status="in_use", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                  enrollment_issues=["agent_missing"])
    html = client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
    assert 'type="checkbox"' in html and reverse("employee_detail", args=[org.slug, owner.pk]) in html
    client.force_login(member(org, Membership.Role.VIEWER))
    for name in ("invitation_list", "troubleshooting"):
        html = client.get(reverse(name, args=[org.slug])).content.decode()
        assert 'type="checkbox"' not in html, name


def test_the_employee_page_marks_a_device_that_needs_attention(client, org, ada):
    from enrollment.public_views import SESSION_KEY

    DeviceFactory(organization=org, name="ada-broken", assignee=ada, assignment_status="assigned",
                  availability_status="in_use", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                  enrollment_issues=["agent_inactive"])
    DeviceFactory(organization=org, name="ada-fine", assignee=ada, assignment_status="assigned",
                  availability_status="in_use", enrollment_status=EnrollmentStatus.ENROLLED)
    session = client.session
    session[SESSION_KEY] = {str(org.pk): ada.pk}
    session.save()
    html = client.get(reverse("enroll_home", kwargs={"enroll_slug": org.slug})).content.decode()
    assert 'class="device-row state-partially_enrolled"' in html and 'class="device-row state-enrolled"' in html


def test_the_link_page_says_what_the_button_does(client, org):
    html = client.get(reverse("enroll_link", kwargs={"enroll_slug": org.slug, "link": "whatever"})).content.decode()
    assert "You opened the sign-in link from your e-mail" in html and 'id="link-form"' in html


def test_troubleshooting_lists_50_per_issue_and_can_send_to_the_whole_group(client, org, admin_user, monkeypatch):
    from enrollment import services

    sent = []
    monkeypatch.setattr(services, "fix_instructions_send_bulk", lambda *, organization, device_ids, actor: sent.append(
        sorted(device_ids)) or {"sent": len(device_ids), "skipped": 0})
    owner = EmployeeFactory(organization=org, email="owner@acme.test")
    devices = [DeviceFactory(organization=org, name=f"broken-{n:02d}", assignee=owner, assignment_status="assigned",
                             availability_status="in_use", enrollment_status=EnrollmentStatus.PARTIALLY_ENROLLED,
                             enrollment_issues=["agent_inactive"]) for n in range(55)]
    client.force_login(admin_user)
    html = client.get(reverse("troubleshooting", args=[org.slug])).content.decode()
    section = html[html.index('id="issue-agent_inactive"'):]
    table = section[:section.index("</table>")]
    assert table.count('type="checkbox"') == 50 and "broken-54" not in table
    assert "The first 50 of 55 are listed." in section and "?enrollment_issue=agent_inactive" in section
    send_all = section[section.index('id="send-all-agent_inactive"'):]
    send_all = send_all[:send_all.index("</form>")]
    assert send_all.count('type="hidden" name="device"') == 55
    client.post(reverse("troubleshooting_send", args=[org.slug]), {"device": [d.pk for d in devices]})
    assert sent == [sorted(d.pk for d in devices)]


def test_remote_management_preview_lists_100_devices_and_counts_the_rest(client, org, admin_user, monkeypatch):
    from enrollment import views
    from enrollment.unenroll import Plan

    devices = [DeviceFactory(organization=org, name=f"stale-{n:03d}") for n in range(104)]
    plan = Plan(threshold_days=30, enrolled_count=1000, max_share_percent=20)
    plan.devices = devices
    monkeypatch.setattr(views.unenroll, "auto_unenroll_plan", lambda **kwargs: plan)
    client.force_login(admin_user)
    html = client.get(reverse("remote_management", args=[org.slug])).content.decode()
    listed = html[html.index('id="purge-preview"'):]
    listed = listed[:listed.index("</ul>")]
    assert listed.count("<li>") == 100 and "stale-103" not in listed
    assert "104 devices not seen for more than 30 days." in html and "… and 4 more." in html


def test_invite_all_asks_before_mailing_everyone(client, org, admin_user):
    for n in range(3):
        EmployeeFactory(organization=org, email=f"new{n}@acme.test")
    client.force_login(admin_user)
    url = reverse("invitation_list", args=[org.slug])
    html = client.get(url).content.decode()
    assert 'href="?confirm=all"' in html and 'value="all_not_enrolled"' not in html  # one click sends nothing
    html = client.get(url, {"confirm": "all"}).content.decode()
    assert "Send 3 invitations?" in html and 'value="all_not_enrolled"' in html
