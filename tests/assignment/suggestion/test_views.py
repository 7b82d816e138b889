"""Cockpit: the review queue (filters, accept/reject one or in bulk), the device panel, settings and preview."""

import pytest
from django.urls import reverse

from assignment.suggestion.models import Suggestion
from assignment.suggestion.services import suggestions_refresh
from core.actors import Actor
from core.models import AuditEvent, Membership, Organization
from devices.models import Usage
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Martin", email="bob@acme.test")


@pytest.fixture
def pair(org, employee, bob):
    ada_device = DeviceFactory(organization=org, name="C02ADA", fleet_emails=[
        {"email": "ada@acme.test", "source": "mdm_idp_accounts"}, {"email": "bob@acme.test", "source": "custom"}])
    bob_device = DeviceFactory(organization=org, name="bob-martin-mbp")
    suggestions_refresh(organization=org, actor=Actor.system("tests"))
    return Suggestion.objects.get(device=ada_device), Suggestion.objects.get(device=bob_device)


def url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


def test_queue_lists_pending_with_evidence_for_and_against(cockpit_client, org, pair):
    response = cockpit_client.get(url("suggestion_list", org))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="suggestion-table"' in html and "C02ADA" in html and "bob-martin-mbp" in html
    assert "SSO / identity provider e-mail" in html and "Against:" in html and "Installer e-mail" in html
    assert "27 %" in html  # 0.9 × (1 − 0.7)


def test_queue_filters_with_the_shared_filterset(cockpit_client, org, pair):
    html = cockpit_client.get(url("suggestion_list", org) + "?evidence=device_name").content.decode()
    assert "bob-martin-mbp" in html and "C02ADA" not in html
    html = cockpit_client.get(url("suggestion_list", org) + "?status=rejected").content.decode()
    assert "No suggestion matches" in html


def test_accept_one_from_the_queue(cockpit_client, org, pair, employee):
    suggestion, _ = pair
    response = cockpit_client.post(url("suggestion_accept", org, pk=suggestion.pk))
    assert response.status_code == 302 and response["Location"] == url("suggestion_list", org)
    suggestion.device.refresh_from_db()
    assert suggestion.device.assignee == employee
    html = cockpit_client.get(url("suggestion_list", org)).content.decode()
    assert f'id="suggestion-{suggestion.pk}"' not in html  # no longer pending


def test_reject_one_keeps_the_reason_and_the_next_run_does_not_propose_it_again(cockpit_client, org, pair):
    _, suggestion = pair
    cockpit_client.post(url("suggestion_reject", org, pk=suggestion.pk), {"reason": "Shared by the sales team"})
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.note) == ("rejected", "Shared by the sales team")
    cockpit_client.post(url("suggestion_refresh", org))
    assert not Suggestion.objects.filter(device=suggestion.device, status="pending").exists()


def test_accepting_twice_shows_the_error(cockpit_client, org, pair):
    suggestion, _ = pair
    cockpit_client.post(url("suggestion_reject", org, pk=suggestion.pk))
    response = cockpit_client.post(url("suggestion_accept", org, pk=suggestion.pk), follow=True)
    assert "already rejected" in response.content.decode()


def test_bulk_accept_and_reject(cockpit_client, org, pair, employee, bob):
    ada, bobs = pair
    response = cockpit_client.post(url("suggestion_bulk", org), {"decision": "accept", "ids": [ada.pk, bobs.pk]},
                                   follow=True)
    assert "2 suggestions accepted." in response.content.decode()
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"accepted"}


def test_bulk_with_nothing_selected_or_a_foreign_id_changes_nothing(cockpit_client, org, other_org, pair):
    response = cockpit_client.post(url("suggestion_bulk", org), {"decision": "reject"}, follow=True)
    assert "Select at least one suggestion." in response.content.decode()
    foreign_device = DeviceFactory(organization=other_org)
    foreign = Suggestion.objects.create(organization=other_org, device=foreign_device,
                                        employee=EmployeeFactory(organization=other_org), confidence=0.5,
                                        fingerprint="f" * 40)
    response = cockpit_client.post(url("suggestion_bulk", org), {"decision": "reject", "ids": [pair[0].pk, foreign.pk]},
                                   follow=True)
    assert f"#{foreign.pk}" in response.content.decode()
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"pending"}


def test_viewer_sees_the_queue_without_buttons_and_cannot_decide(client, org, pair):
    client.force_login(member(org, Membership.Role.VIEWER))
    html = client.get(url("suggestion_list", org)).content.decode()
    assert "C02ADA" in html and "Accept selected" not in html
    assert client.post(url("suggestion_accept", org, pk=pair[0].pk)).status_code == 403
    assert client.get(url("suggestion_settings", org)).status_code == 403


def test_technician_decides_but_does_not_change_settings(client, org, pair):
    client.force_login(member(org, Membership.Role.TECHNICIAN))
    assert client.post(url("suggestion_reject", org, pk=pair[0].pk)).status_code == 302
    assert client.post(url("suggestion_settings", org), {"assignment_suggestion_mode": "auto",
                                                         "suggestion_confidence_threshold": 0.6}).status_code == 403


def test_device_page_shows_the_pending_suggestion_with_accept_and_reject(cockpit_client, org, pair, employee):
    suggestion, _ = pair
    page = url("device_detail", org, pk=suggestion.device_id)
    html = cockpit_client.get(page).content.decode()
    assert 'id="suggestion-panel"' in html and "Ada Lovelace" in html and "27 %" in html
    assert url("suggestion_accept", org, pk=suggestion.pk) in html
    response = cockpit_client.post(url("suggestion_accept", org, pk=suggestion.pk), {"next": page})
    assert response["Location"] == page
    assert 'id="suggestion-panel"' not in cockpit_client.get(page).content.decode()


def test_device_page_of_a_shared_device_shows_no_suggestion(cockpit_client, org, pair):
    suggestion, _ = pair
    suggestion.device.usage = Usage.SHARED
    suggestion.device.save(update_fields=["usage"])
    html = cockpit_client.get(url("device_detail", org, pk=suggestion.device_id)).content.decode()
    assert 'id="suggestion-panel"' not in html
    assert Suggestion.objects.get(pk=suggestion.pk).status == "pending"  # until the next run supersedes it


def test_next_must_stay_on_this_site(cockpit_client, org, pair):
    response = cockpit_client.post(url("suggestion_reject", org, pk=pair[0].pk), {"next": "https://evil.test/"})
    assert response["Location"] == url("suggestion_list", org)


def test_settings_change_mode_and_threshold_through_the_service(cockpit_client, org):
    response = cockpit_client.post(url("suggestion_settings", org), {
        "assignment_suggestion_mode": "auto", "suggestion_confidence_threshold": "0.8"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.assignment_suggestion_mode, org.suggestion_confidence_threshold) == ("auto", 0.8)
    event = AuditEvent.objects.get(event="organization.settings_updated")
    assert event.after == {"assignment_suggestion_mode": "auto", "suggestion_confidence_threshold": 0.8}


def test_settings_refuse_a_threshold_out_of_range(cockpit_client, org):
    response = cockpit_client.post(url("suggestion_settings", org), {
        "assignment_suggestion_mode": "auto", "suggestion_confidence_threshold": "0.2"})
    assert response.status_code == 400
    org.refresh_from_db()
    assert org.assignment_suggestion_mode == Organization.SuggestionMode.SUGGEST


def test_settings_preview_lists_what_auto_would_assign(cockpit_client, org, employee, bob, actor):
    confident = DeviceFactory(organization=org, name="C02SSO", fleet_emails=[
        {"email": "ada@acme.test", "source": "mdm_idp_accounts"}, {"email": "ada@acme.test", "source": "custom"}])
    DeviceFactory(organization=org, name="C02WEAK", fleet_emails=[{"email": "bob@acme.test", "source": "custom"}])
    DeviceFactory(organization=org, name="C02KIOSK", usage=Usage.SHARED, fleet_emails=[
        {"email": "bob@acme.test", "source": "mdm_idp_accounts"}])
    html = cockpit_client.get(url("suggestion_settings", org)).content.decode()
    assert 'id="preview-total">1<' in html and "C02SSO" in html and "C02WEAK" not in html
    assert "C02KIOSK" not in html
    html = cockpit_client.get(url("suggestion_settings", org) + "?threshold=0.6").content.decode()
    assert 'id="preview-total">2<' in html and "C02WEAK" in html
    html = cockpit_client.get(url("suggestion_settings", org) + "?threshold=abc").content.decode()
    assert "is not a threshold" in html and 'id="preview-total">1<' in html
    assert not Suggestion.objects.exists()
    confident.refresh_from_db()
    assert confident.assignee is None


def test_compute_now_when_off_says_so(cockpit_client, org, employee):
    org.assignment_suggestion_mode = Organization.SuggestionMode.OFF
    org.save(update_fields=["assignment_suggestion_mode"])
    DeviceFactory(organization=org, fleet_emails=[{"email": "ada@acme.test", "source": "custom"}])
    response = cockpit_client.post(url("suggestion_refresh", org), follow=True)
    assert "suggestion is off" in response.content.decode()
    assert not Suggestion.objects.exists()
