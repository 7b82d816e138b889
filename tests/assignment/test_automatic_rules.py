"""Automatic paths follow the rules of ``devices.rules`` (issue #10 §3, §4): phones and tablets are left to a
person, and so are employees whose offboarding is under way; a person doing it by hand still may."""

import pytest
from django.urls import reverse

from assignment import services as pa_services
from assignment.models import PreAssignment
from assignment.suggestion import services as suggestion_services
from assignment.suggestion.models import Suggestion
from assignment.suggestion.selectors import auto_mode_preview, suggestion_queryset
from core.actors import Actor
from core.errors import IllegalTransition
from core.models import AuditEvent, Organization
from devices import rules
from devices import services as device_services
from enrollment.autoassign import decide
from offboarding import services as offboarding_services
from tests.factories import DeviceFactory, EmployeeFactory

SYSTEM = Actor.system("tests")
SSO = "mdm_idp_accounts"
INSTALLER = "custom"


def auto(org, threshold=0.9):
    Organization.objects.filter(pk=org.pk).update(assignment_suggestion_mode=Organization.SuggestionMode.AUTO,
                                                  suggestion_confidence_threshold=threshold)
    org.refresh_from_db()
    return org


def strong_device(org, email, **fields):
    """A device whose facts name ``email`` with 0.97 confidence (SSO and installer)."""
    return DeviceFactory(organization=org, fleet_emails=[{"email": email, "source": SSO},
                                                         {"email": email, "source": INSTALLER}], **fields)


def refresh(org):
    return suggestion_services.suggestions_refresh(organization=org, actor=SYSTEM)


# --- §3 phones and tablets ---------------------------------------------------------------------------------------


def test_one_rule_for_every_automatic_path(org):
    assert {"ios", "ipados", "android"} == rules.MANUAL_ONLY_PLATFORMS
    for platform in ("ios", "ipados", "android"):
        assert rules.assigned_by_a_person_only(platform)
        phone = DeviceFactory(organization=org, platform=platform,
                              fleet_emails=[{"email": "ada@acme.test", "source": INSTALLER},
                                            {"email": "ada@acme.test", "source": SSO}])
        # Enrollment gives the very sentence the rule defines: one definition, not two.
        employee, note = decide(phone, {"ada@acme.test": EmployeeFactory(organization=org, email=f"{platform}@a.t")})
        assert employee is None and note == rules.platform_hold_reason(platform)
    for platform in ("macos", "windows", "linux", "chromeos"):
        assert not rules.assigned_by_a_person_only(platform) and rules.platform_hold_reason(platform) == ""


def test_auto_mode_leaves_phones_and_tablets_as_suggestions(org, employee):
    auto(org)
    phones = {platform: strong_device(org, employee.email, platform=platform)
              for platform in ("ios", "ipados", "android")}
    laptop = strong_device(org, employee.email, platform="macos")

    counts = refresh(org)

    assert counts["auto_assigned"] == 1 and counts["auto_held"] == 3 and counts["auto_failed"] == 0
    laptop.refresh_from_db()
    assert laptop.assignee == employee
    for phone in phones.values():
        phone.refresh_from_db()
        assert phone.assignee is None
        suggestion = Suggestion.objects.get(device=phone)
        assert suggestion.status == Suggestion.Status.PENDING and suggestion.confidence == 0.97
    assert not AuditEvent.objects.filter(event="suggestion.auto_assigned",
                                         target_id__in=[str(p.pk) for p in phones.values()]).exists()
    # The next run changes nothing: they wait for a person.
    again = refresh(org)
    assert again["auto_assigned"] == 0 and again["auto_held"] == 3


def test_a_person_accepts_a_phones_suggestion(org, employee, actor):
    auto(org)
    phone = strong_device(org, employee.email, platform="android")
    refresh(org)
    suggestion = Suggestion.objects.get(device=phone)
    with pytest.raises(IllegalTransition, match="never assigned automatically"):
        suggestion_services.suggestion_accept(suggestion=suggestion, actor=SYSTEM, automatic=True)
    suggestion_services.suggestion_accept(suggestion=suggestion, actor=actor)
    phone.refresh_from_db()
    assert phone.assignee == employee and phone.history.get(action="assigned").source == "suggestion"


def test_the_auto_preview_lists_phones_and_tablets_apart_with_the_reason(org, employee, cockpit_client):
    laptop = strong_device(org, employee.email, platform="windows", name="ADA-LAPTOP")
    tablet = strong_device(org, employee.email, platform="ipados", name="Ada's iPad")

    preview = auto_mode_preview(organization=org, threshold=0.9)

    assert [row.device_id for row in preview.assign] == [laptop.pk]
    [held] = preview.held
    assert held.device_id == tablet.pk and held.employee_id == employee.pk
    assert held.held == rules.platform_hold_reason("ipados")

    page = cockpit_client.get(reverse("suggestion_settings", args=[org.slug]) + "?threshold=0.9")
    html = page.content.decode()
    assert page.status_code == 200
    table = html[html.index('id="preview-table"'):html.index('id="preview-held-table"')]
    assert "ADA-LAPTOP" in table and "iPad" not in table
    held_table = html[html.index('id="preview-held-table"'):]
    assert "Ada&#x27;s iPad" in held_table and "never assigned automatically" in held_table
    assert 'id="preview-total">1<' in html and "Left to a person: 1 device" in html


def test_a_pre_assignment_by_serial_still_applies_to_a_phone(org, actor, employee):
    pa = pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="F2LPHONE1", employee=employee)
    phone = device_services.device_create(organization=org, actor=SYSTEM, serial_number="F2LPHONE1", platform="ios")
    assert phone.assignee == employee
    pa.refresh_from_db()
    assert pa.status == PreAssignment.Status.APPLIED


# --- §4 leavers: suggestion ---------------------------------------------------------------------------------------


def test_a_leaver_is_never_proposed(org, leaver, employee):
    device = strong_device(org, leaver.email)
    counts = refresh(org)  # suggest mode
    assert counts["created"] == 0 and not Suggestion.objects.filter(device=device).exists()
    assert auto_mode_preview(organization=org, threshold=0.5).assign == []
    # Their evidence still speaks against anyone else (a name match for Ada is no reason to give her Lea's laptop).
    device.name = "Ada Lovelace laptop"
    device.save(update_fields=["name"])
    assert refresh(org)["created"] == 0


def test_a_pending_suggestion_of_someone_who_starts_leaving_is_not_applied(org, employee, actor):
    device = strong_device(org, employee.email)
    refresh(org)
    suggestion = Suggestion.objects.get(device=device)
    case = offboarding_services.offboarding_start(organization=org, employee=employee, actor=actor)

    # Until the next run, it is out of the queue and auto mode may not apply it.
    assert not suggestion_queryset(organization=org).filter(pk=suggestion.pk).exists()
    with pytest.raises(IllegalTransition, match="Ada Lovelace is leaving"):
        suggestion_services.suggestion_accept(suggestion=suggestion, actor=SYSTEM, automatic=True)

    auto(org, threshold=0.5)
    counts = refresh(org)

    device.refresh_from_db()
    suggestion.refresh_from_db()
    assert device.assignee is None and counts["auto_assigned"] == 0
    assert suggestion.status == Suggestion.Status.SUPERSEDED and suggestion.note == suggestion_services.NOTE_LEAVING

    # The offboarding is cancelled: she is proposed (and, in auto mode, assigned) again.
    offboarding_services.offboarding_cancel(offboarding=case, actor=actor)
    assert refresh(org)["auto_assigned"] == 1
    device.refresh_from_db()
    assert device.assignee == employee


def test_suggestion_pages_do_not_offer_a_leaver(org, employee, actor, cockpit_client):
    device = strong_device(org, employee.email, name="ADA-MBP")
    refresh(org)
    offboarding_services.offboarding_start(organization=org, employee=employee, actor=actor)
    queue = cockpit_client.get(reverse("suggestion_list", args=[org.slug])).content.decode()
    assert "ADA-MBP" not in queue
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    assert 'id="suggestion-panel"' not in page


# --- §4 leavers: pre-assignment applied automatically -------------------------------------------------------------


def test_a_leavers_pre_assignment_waits_when_the_device_shows_up(org, actor, leaver):
    pa = pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02LEA", employee=leaver)
    assert pa.status == PreAssignment.Status.WAITING

    device = device_services.device_create(organization=org, actor=SYSTEM, serial_number="c02lea", platform="macos")

    assert device.assignee is None
    pa.refresh_from_db()
    assert pa.status == PreAssignment.Status.WAITING and pa.device is None
    assert "Lea Leaving (lea@acme.test) is leaving" in pa.note and "draft" in pa.note
    held = AuditEvent.objects.get(event="pre_assignment.held", target_id=str(pa.pk))
    assert "kept the pre-assignment C02LEA waiting" in held.sentence
    # Each sync looks again, and says it once.
    assert pa_services.pre_assignments_apply(organization=org, actor=SYSTEM) == {
        "applied": 0, "conflict": 0, "held": 0, "failed": 0}
    assert AuditEvent.objects.filter(event="pre_assignment.held").count() == 1


def test_the_device_page_says_why_its_pre_assignment_waits(org, actor, leaver, cockpit_client):
    pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02LEA", employee=leaver)
    device = device_services.device_create(organization=org, actor=SYSTEM, serial_number="C02LEA", platform="macos")
    page = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    panel = page[page.index('id="pre-assignment-panel"'):]
    assert 'id="pre-assignment-held"' in panel and "Lea Leaving (lea@acme.test) is leaving" in panel
    assert "Apply now" in panel


def test_a_held_pre_assignment_applies_once_the_offboarding_is_cancelled(org, actor, leaver):
    pa = pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02LEA", employee=leaver)
    device = DeviceFactory(organization=org, serial_number="C02LEA")
    assert pa_services.pre_assignments_apply(organization=org, actor=SYSTEM)["held"] == 1
    offboarding_services.offboarding_cancel(offboarding=leaver.offboardings.get(), actor=actor)

    assert pa_services.pre_assignments_apply(organization=org, actor=SYSTEM)["applied"] == 1

    pa.refresh_from_db()
    device.refresh_from_db()
    assert pa.status == PreAssignment.Status.APPLIED and pa.note == "" and device.assignee == leaver


def test_a_person_applies_a_held_pre_assignment_by_hand(org, actor, leaver, cockpit_client):
    pa = pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02LEA", employee=leaver)
    device = DeviceFactory(organization=org, serial_number="C02LEA")
    pa_services.pre_assignments_apply(organization=org, actor=SYSTEM)

    detail = cockpit_client.get(reverse("preassignment_detail", args=[org.slug, pa.pk])).content.decode()
    assert 'id="leaving-warning"' in detail and "Lea Leaving is leaving" in detail and "Apply now" in detail

    response = cockpit_client.post(reverse("preassignment_apply", args=[org.slug, pa.pk]))
    assert response.status_code == 302
    messages = [(m.level_tag, str(m)) for m in response.wsgi_request._messages]
    assert ("warning", rules.leaving_sentence(name="Lea Leaving", why="their offboarding has been started (draft)")) \
        in messages
    pa.refresh_from_db()
    device.refresh_from_db()
    assert pa.status == PreAssignment.Status.APPLIED and device.assignee == leaver


def test_a_leavers_conflict_freed_by_its_owner_waits_too(org, actor, leaver, employee):
    device = device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02BUSY"),
                                           employee=employee, actor=actor)
    pa = pa_services.pre_assignment_create(organization=org, actor=actor, serial_number="C02BUSY", employee=leaver)
    assert pa.status == PreAssignment.Status.CONFLICT
    device_services.device_unassign(device=device, actor=actor)

    assert pa_services.pre_assignments_apply(organization=org, actor=SYSTEM)["held"] == 1

    pa.refresh_from_db()
    device.refresh_from_db()
    assert pa.status == PreAssignment.Status.WAITING and device.assignee is None and "is leaving" in pa.note
