"""Cockpit: the Offboard button, the wizard (apply to all, summary, complete/schedule/cancel), the list,
the departed report, and the wipe panel of the device page."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, Employee, Membership
from devices import services as device_services
from devices.models import DeviceCommand
from offboarding import services
from offboarding.models import Offboarding, OffboardingDevice
from tests.conftest import member
from tests.offboarding.conftest import hand


def _decisions_post(devices, rows=None):
    rows = rows or {}
    data = {"save": "1"}
    for device in devices:
        row = rows.get(device.pk, {"action": "return_to_stock", "wipe": True})
        data[f"action_{device.pk}"] = row["action"]
        data[f"reassign_to_{device.pk}"] = row.get("reassign_to", "")
        if row.get("wipe"):
            data[f"wipe_{device.pk}"] = "on"
    return data


def test_employee_page_shows_the_offboard_button_to_admins_only(client, cockpit_client, org, leaver):
    page = cockpit_client.get(reverse("employee_detail", args=[org.slug, leaver.pk])).content.decode()
    assert 'id="offboard-button"' in page
    client.force_login(member(org, Membership.Role.VIEWER))
    page = client.get(reverse("employee_detail", args=[org.slug, leaver.pk])).content.decode()
    assert 'id="offboarding-panel"' in page and 'id="offboard-button"' not in page
    assert client.get(reverse("employee_offboard", args=[org.slug, leaver.pk])).status_code == 403


def test_wizard_apply_to_all_then_summary_then_complete(cockpit_client, org, actor, leaver, bob):
    devices = hand(org, leaver, actor, 3)
    url = reverse("employee_offboard", args=[org.slug, leaver.pk])
    page = cockpit_client.get(url).content.decode()
    for device in devices:
        assert f'name="action_{device.pk}"' in page and f'name="wipe_{device.pk}"' in page

    # "Apply to all": every row becomes reassign to Bob, without wipe; nothing is saved yet.
    data = _decisions_post(devices) | {"apply_all": "1", "all_action": "reassign", "all_reassign_to": bob.email}
    data.pop("save")
    response = cockpit_client.post(url, data)
    assert response.status_code == 200 and not Offboarding.objects.exists()
    form = response.context["form"]
    assert all(form[f"action_{d.pk}"].value() == "reassign" for d in devices)
    assert all(form[f"reassign_to_{d.pk}"].value() == bob.email for d in devices)
    assert not any(form[f"wipe_{d.pk}"].value() for d in devices)

    # Save with one row changed: the summary shows each decision.
    rows = {d.pk: {"action": "reassign", "reassign_to": bob.email} for d in devices}
    rows[devices[2].pk] = {"action": "remove_from_fleet", "wipe": True}
    response = cockpit_client.post(url, _decisions_post(devices, rows))
    case = Offboarding.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("offboarding_detail", args=[org.slug, case.pk])
    summary = cockpit_client.get(response["Location"]).content.decode()
    assert "Summary: what completion will do" in summary and "Bob Builder" in summary and 'id="complete-now"' in summary

    response = cockpit_client.post(reverse("offboarding_complete", args=[org.slug, case.pk]))
    assert response.status_code == 302
    case.refresh_from_db()
    leaver.refresh_from_db()
    assert case.status == Offboarding.Status.COMPLETED and leaver.status == Employee.Status.OFFBOARDED
    for device in devices:
        device.refresh_from_db()
    assert [d.assignee for d in devices[:2]] == [bob, bob] and devices[2].is_archived
    assert DeviceCommand.objects.filter(device=devices[2]).exists()
    # The device page shows the wipe.
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, devices[2].pk])).content.decode()
    assert 'id="wipe-panel"' in page and "Requested" in page


def test_wizard_refuses_a_reassign_to_an_offboarded_employee(cockpit_client, org, actor, leaver):
    gone = Employee.objects.create(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    [device] = hand(org, leaver, actor)
    url = reverse("employee_offboard", args=[org.slug, leaver.pk])
    page = cockpit_client.get(url).content.decode()
    assert "gone@acme.test" not in page  # offboarded employees are not offered as receivers
    response = cockpit_client.post(url, _decisions_post([device], {
        device.pk: {"action": "reassign", "reassign_to": gone.email}}))
    assert response.status_code == 400 and "has been offboarded" in response.content.decode()
    assert not Offboarding.objects.exists()


def test_schedule_and_cancel_from_the_summary(cockpit_client, org, actor, leaver):
    hand(org, leaver, actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    day = timezone.localdate() + timedelta(days=10)
    cockpit_client.post(reverse("offboarding_schedule", args=[org.slug, case.pk]), {"effective_date": day})
    case.refresh_from_db()
    assert case.status == Offboarding.Status.SCHEDULED and case.effective_date == day
    # A past day is refused with a message; nothing changes.
    response = cockpit_client.post(reverse("offboarding_schedule", args=[org.slug, case.pk]),
                                   {"effective_date": timezone.localdate() - timedelta(days=1)}, follow=True)
    assert "future day" in response.content.decode()
    cockpit_client.post(reverse("offboarding_cancel", args=[org.slug, case.pk]), {"reason": "Changed mind"})
    case.refresh_from_db()
    assert case.status == Offboarding.Status.CANCELLED and case.cancel_reason == "Changed mind"


def test_edit_decisions_of_an_open_case(cockpit_client, org, actor, leaver, bob):
    [device] = hand(org, leaver, actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor)
    url = reverse("offboarding_edit", args=[org.slug, case.pk])
    assert cockpit_client.get(url).status_code == 200
    cockpit_client.post(url, _decisions_post([device], {device.pk: {"action": "reassign", "reassign_to": bob.email,
                                                                      "wipe": False}}))
    decision = case.decisions.get()
    assert (decision.action, decision.reassign_to, decision.wipe) == ("reassign", bob, False)


def test_list_and_departed_report(cockpit_client, org, actor, leaver, bob):
    services.offboarding_complete(
        offboarding=services.offboarding_start(organization=org, employee=leaver, actor=actor), actor=actor)
    page = cockpit_client.get(reverse("offboarding_list", args=[org.slug]) + "?status=completed").content.decode()
    assert "Lea Leaver" in page
    assert "Lea Leaver" not in cockpit_client.get(
        reverse("offboarding_list", args=[org.slug]) + "?status=draft").content.decode()
    # Someone left without this cockpit (status set by hand) and still holds a device.
    [device] = hand(org, bob, actor)
    Employee.objects.filter(pk=bob.pk).update(status=Employee.Status.OFFBOARDED, offboarded_at=timezone.now())
    report = cockpit_client.get(reverse("offboarding_departed", args=[org.slug])).content.decode()
    assert "Bob Builder" in report and "Lea Leaver" not in report


def test_failed_wipe_retry_and_hand_over_from_the_device_page(cockpit_client, org, actor, leaver, bob):
    org.offboarding_hold_until_wipe = True
    org.save()
    [device] = hand(org, leaver, actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor, decisions=[
        {"device": device.pk, "action": "reassign", "reassign_to": bob.pk}])
    services.offboarding_complete(offboarding=case, actor=actor)
    wipe = DeviceCommand.objects.get()
    DeviceCommand.objects.filter(pk=wipe.pk).update(status=DeviceCommand.Status.FAILED, last_error="Host is wiped.")
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    assert "Awaiting wipe" in page and "Host is wiped." in page and "Hand over now" in page
    cockpit_client.post(reverse("wipe_retry", args=[org.slug, wipe.pk]))
    wipe.refresh_from_db()
    assert wipe.status == DeviceCommand.Status.REQUESTED
    decision = case.decisions.get()
    cockpit_client.post(reverse("decision_hand_over", args=[org.slug, decision.pk]))
    device.refresh_from_db()
    decision.refresh_from_db()
    assert device.assignee == bob and decision.status == OffboardingDevice.Status.APPLIED
    device_services.device_unassign(device=device, actor=actor)  # the device moves stay usable afterwards


def test_wizard_page_title_is_plain_text(cockpit_client, org, actor, leaver):
    """The wizard's script was inside <title>: the browser tab showed the markup."""
    hand(org, leaver, actor)
    page = cockpit_client.get(reverse("employee_offboard", args=[org.slug, leaver.pk])).content.decode()
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<script" not in title and f"Offboard {leaver.display_name}" in title
    assert page.count("offboarding/wizard.js") == 1


def test_wizard_reassign_without_receiver_is_an_error_on_that_row(cockpit_client, org, actor, leaver):
    """Not the API's "devices[0]: … (reassign_to)" at the top of the page: a plain sentence under the row."""
    devices = hand(org, leaver, actor, 2)
    url = reverse("employee_offboard", args=[org.slug, leaver.pk])
    response = cockpit_client.post(url, _decisions_post(devices, {devices[0].pk: {"action": "reassign"}}))
    assert response.status_code == 400 and not Offboarding.objects.exists()
    form = response.context["form"]
    assert form.errors[f"reassign_to_{devices[0].pk}"] == [f"Say who receives {devices[0]}."]
    assert not form.non_field_errors()
    assert "devices[0]" not in response.content.decode()
    # Reassigning to the leaver is refused the same way.
    response = cockpit_client.post(url, _decisions_post(devices, {
        devices[0].pk: {"action": "reassign", "reassign_to": leaver.email}}))
    assert response.status_code == 400
    assert "cannot be reassigned to the leaver" in response.context["form"].errors[f"reassign_to_{devices[0].pk}"][0]


def test_list_filters_pick_dates_with_a_date_box(cockpit_client, org):
    html = cockpit_client.get(reverse("offboarding_list", args=[org.slug])).content.decode()
    assert 'type="date" name="effective_after"' in html and 'type="date" name="effective_before"' in html


def test_summary_offers_three_labelled_ways_to_finish_and_links_the_receiver(cockpit_client, org, actor, leaver, bob):
    [device] = hand(org, leaver, actor)
    case = services.offboarding_start(organization=org, employee=leaver, actor=actor, decisions=[
        {"device": device, "action": "reassign", "reassign_to": bob}])
    html = cockpit_client.get(reverse("offboarding_detail", args=[org.slug, case.pk])).content.decode()
    assert reverse("employee_detail", args=[org.slug, bob.pk]) in html
    finish = html[html.index('id="finish"'):]
    for heading in ("Complete it now", "Or schedule it", "Or cancel it"):
        assert f"<h3>{heading}</h3>" in finish
    assert "Why (optional)" not in finish and 'placeholder="Reason (optional)"' in finish


def test_offboarding_settings_page(client, cockpit_client, org):
    url = reverse("offboarding_settings", args=[org.slug])
    assert url in cockpit_client.get(reverse("offboarding_list", args=[org.slug])).content.decode()
    page = cockpit_client.get(url)
    assert page.status_code == 200 and 'name="offboarding_default_action"' in page.content.decode()
    response = cockpit_client.post(url, {"offboarding_default_action": "remove_from_fleet",
                                         "offboarding_hold_until_wipe": "on"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.offboarding_default_action == "remove_from_fleet" and org.offboarding_hold_until_wipe
    assert AuditEvent.objects.for_org(org).filter(target_id=str(org.pk)).exists()
    # Reassign is not a default (it needs a receiver): refused, nothing changes.
    response = cockpit_client.post(url, {"offboarding_default_action": "reassign"})
    assert response.status_code == 400
    org.refresh_from_db()
    assert org.offboarding_default_action == "remove_from_fleet"
    client.force_login(member(org, Membership.Role.TECHNICIAN))
    assert client.get(url).status_code == 403
    assert url not in client.get(reverse("offboarding_list", args=[org.slug])).content.decode()
