"""Suggestion services on the database: modes, evidence from stored facts, accept/reject, auto, tenancy."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assignment.suggestion import services
from assignment.suggestion.models import Suggestion
from assignment.suggestion.selectors import auto_mode_preview, suggestion_facts, suggestion_queryset
from core.actors import Actor
from core.audit import Source
from core.errors import IllegalTransition, InvalidInput
from core.hooks import employee_offboarded
from core.models import AuditEvent, Employee, Organization
from devices import services as device_services
from devices.models import DeviceHistory, Usage
from mdm_sync.hooks import after_sync
from tests.factories import DeviceFactory, EmployeeFactory, OrganizationFactory

SYSTEM = Actor.system("tests")


def mode(org, value, threshold=None):
    org.assignment_suggestion_mode = value
    fields = ["assignment_suggestion_mode"]
    if threshold is not None:
        org.suggestion_confidence_threshold = threshold
        fields.append("suggestion_confidence_threshold")
    org.save(update_fields=fields)
    return org


def mdm_device(org, *emails, **fields):
    return DeviceFactory(organization=org, fleet_emails=[{"email": e, "source": s} for e, s in emails], **fields)


def refresh(org):
    return services.suggestions_refresh(organization=org, actor=SYSTEM)


def pending(org):
    return list(Suggestion.objects.for_org(org).filter(status=Suggestion.Status.PENDING))


@pytest.fixture
def bob(org):
    return EmployeeFactory(organization=org, full_name="Bob Martin", email="bob@acme.test", username="bmartin")


def test_a_new_organization_suggests_nothing_until_an_admin_turns_it_on(employee):
    new = OrganizationFactory()
    assert new.assignment_suggestion_mode == Organization.SuggestionMode.OFF
    EmployeeFactory(organization=new, email="ada@new.test")
    mdm_device(new, ("ada@new.test", "mdm_idp_accounts"))
    assert refresh(new) == {"mode": "off"} and not Suggestion.objects.exists()
    mode(new, Organization.SuggestionMode.SUGGEST)
    assert refresh(new)["created"] == 1


def test_mode_off_does_nothing(org, employee):
    mode(org, Organization.SuggestionMode.OFF)
    device = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    assert refresh(org) == {"mode": "off"}
    assert not Suggestion.objects.exists()
    assert not AuditEvent.objects.filter(event__startswith="suggestion.").exists()
    device.refresh_from_db()
    assert device.assignee_id is None


def test_suggest_mode_stores_one_pending_suggestion_and_assigns_nothing(org, employee):
    device = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"), name="C02XYZ")
    counts = refresh(org)
    assert counts["created"] == 1 and counts["suggested"] == 1
    [suggestion] = pending(org)
    assert (suggestion.device, suggestion.employee, suggestion.confidence) == (device, employee, 0.9)
    assert suggestion.evidence[0]["kind"] == "sso_email" and suggestion.evidence_kinds == ",sso_email,"
    device.refresh_from_db()
    assert device.assignee_id is None
    event = AuditEvent.objects.get(event="suggestion.refreshed")
    assert event.after["created"] == 1 and "1 new" in event.sentence


@pytest.mark.parametrize("setup, kinds", [
    ({"fleet_emails": [{"email": "ada@acme.test", "source": "custom"}]}, {"installer_email"}),
    ({"fleet_emails": [{"email": "ada@acme.test", "source": "custom_installer"}]}, {"installer_email"}),
    ({"fleet_emails": [{"email": "ADA@acme.test", "source": "google_chrome_profiles"}]}, {"browser_profile_email"}),
    ({"name": "Ada's MacBook Pro"}, {"device_name"}),
    ({"name": "C02ABC", "fleet_hostname": "ada-lovelace-mbp.local"}, {"device_name"}),
], ids=["installer", "installer-legacy", "browser", "name", "hostname"])
def test_each_stored_fact_is_evidence(org, employee, setup, kinds):
    DeviceFactory(organization=org, **setup)
    refresh(org)
    [suggestion] = pending(org)
    assert suggestion.employee == employee
    assert {e["kind"] for e in suggestion.evidence_for} == kinds


def test_previous_owner_from_history_supports_other_evidence(org, employee, actor):
    device = mdm_device(org, ("ada@acme.test", "custom"))
    device_services.device_assign(device=device, employee=employee, actor=actor)
    device_services.device_unassign(device=device, actor=actor)
    other = DeviceFactory(organization=org)  # previous owner alone: no suggestion
    device_services.device_assign(device=other, employee=employee, actor=actor)
    device_services.device_return_to_stock(device=other, actor=actor)
    refresh(org)
    [suggestion] = pending(org)
    assert suggestion.device == device
    assert {e["kind"] for e in suggestion.evidence_for} == {"installer_email", "previous_owner"}
    assert suggestion.confidence == pytest.approx(1 - 0.3 * 0.7)


@pytest.mark.parametrize("account, username", [
    ("bmartin", "bmartin"), ("BMartin", "bmartin"), ("CORP\\bmartin", "bmartin"), ("bmartin", "CORP\\BMARTIN"),
])
def test_a_local_account_alone_makes_a_suggestion(org, bob, account, username):
    """The only evidence: a local account equal to an active employee's directory user name (case and a
    ``DOMAIN\\`` prefix aside, on either side)."""
    Employee.objects.filter(pk=bob.pk).update(username=username)
    device = DeviceFactory(organization=org, name="LAPTOP-7QK2M", local_accounts=[account, "kiosk"])
    [facts] = [f for f in suggestion_facts(organization=org).devices if f.device_id == device.pk]
    assert facts.local_users == (account, "kiosk")
    refresh(org)
    [suggestion] = pending(org)
    assert (suggestion.device, suggestion.employee) == (device, bob)
    assert [(e["kind"], e["value"]) for e in suggestion.evidence_for] == [("local_account", account)]
    assert not suggestion.evidence_against


def test_a_local_account_of_a_leaver_or_a_system_account_suggests_nothing(org, bob):
    Employee.objects.filter(pk=bob.pk).update(status=Employee.Status.OFFBOARDED)
    DeviceFactory(organization=org, name="LAPTOP-7QK2M", local_accounts=["bmartin"])
    EmployeeFactory(organization=org, full_name="Root Account", email="root@acme.test", username="root")
    DeviceFactory(organization=org, name="LAPTOP-8XZ1P", local_accounts=["root"])
    refresh(org)
    assert pending(org) == []


def test_conflicting_evidence_lowers_confidence_and_is_listed(org, employee, bob):
    mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"), ("bob@acme.test", "google_chrome_profiles"))
    refresh(org)
    [suggestion] = pending(org)
    assert suggestion.employee == employee
    assert suggestion.confidence == pytest.approx(0.54)
    assert [e["employee_id"] for e in suggestion.evidence_against] == [bob.pk]


def test_refresh_twice_changes_nothing(org, employee):
    mdm_device(org, ("ada@acme.test", "custom"))
    refresh(org)
    first = pending(org)
    counts = refresh(org)
    assert (counts["created"], counts["superseded"], counts["updated"]) == (0, 0, 0)
    assert pending(org) == first
    assert AuditEvent.objects.filter(event="suggestion.refreshed").count() == 1


def test_shared_devices_are_never_proposed(org, employee, actor):
    mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"), usage=Usage.SHARED, name="Ada's kiosk")
    refresh(org)
    assert not Suggestion.objects.exists()
    # A device that becomes shared loses its pending suggestion: at once in the lists, at the next run for good.
    device = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    refresh(org)
    [suggestion] = pending(org)
    device_services.device_update(device=device, actor=actor, usage=Usage.SHARED)
    assert not suggestion_queryset(organization=org).filter(pk=suggestion.pk).exists()
    with pytest.raises(IllegalTransition, match="shared device"):
        services.suggestion_accept(suggestion=suggestion, actor=actor)
    assert refresh(org)["superseded"] == 1
    suggestion.refresh_from_db()
    assert suggestion.status == "superseded" and suggestion.note == services.NOTE_DEVICE_GONE


def test_archived_and_assigned_devices_are_never_proposed(org, employee, bob, actor):
    archived = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    device_services.device_archive(device=archived, actor=actor)
    assigned = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    device_services.device_assign(device=assigned, employee=bob, actor=actor)
    refresh(org)
    assert not Suggestion.objects.exists()


def test_device_assigned_otherwise_drops_its_suggestion(org, employee, bob, actor):
    device = mdm_device(org, ("ada@acme.test", "custom"))
    refresh(org)
    [suggestion] = pending(org)
    device_services.device_assign(device=device, employee=bob, actor=actor)
    assert not suggestion_queryset(organization=org).filter(status="pending").exists()
    refresh(org)
    suggestion.refresh_from_db()
    assert suggestion.status == "superseded" and suggestion.decided_at is not None


def test_offboarded_employees_are_never_proposed(org, employee, bob, actor):
    Employee.objects.filter(pk=bob.pk).update(status=Employee.Status.OFFBOARDED)
    mdm_device(org, ("bob@acme.test", "mdm_idp_accounts"), name="bob-martin-mbp")
    refresh(org)
    assert not Suggestion.objects.exists()


def test_offboarding_withdraws_the_leavers_pending_suggestions(org, employee, actor):
    assert "assignment.suggestions_withdraw" in employee_offboarded.names
    mdm_device(org, ("ada@acme.test", "custom"))
    refresh(org)
    [suggestion] = pending(org)
    assert services.suggestions_withdraw_for_employee(employee=employee, actor=actor) == 1
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.note) == ("superseded", services.NOTE_OFFBOARDED)


def test_accept_assigns_with_source_suggestion(org, employee, actor):
    device = mdm_device(org, ("ada@acme.test", "custom"))
    refresh(org)
    [suggestion] = pending(org)
    services.suggestion_accept(suggestion=suggestion, actor=actor)
    device.refresh_from_db()
    assert device.assignee == employee and device.assignment_status == "assigned"
    history = DeviceHistory.objects.filter(device=device).first()
    assert (history.action, history.source) == ("assigned", Source.SUGGESTION)
    suggestion.refresh_from_db()
    assert suggestion.status == "accepted" and suggestion.decided_by_user == actor.user and not suggestion.automatic
    event = AuditEvent.objects.get(event="suggestion.accepted")
    assert event.target_id == str(device.pk) and "accepted the suggestion" in event.sentence
    with pytest.raises(IllegalTransition, match="already accepted"):
        services.suggestion_accept(suggestion=suggestion, actor=actor)


def test_rejection_is_remembered_on_the_same_evidence(org, employee, actor):
    device = mdm_device(org, ("ada@acme.test", "custom"))
    refresh(org)
    [suggestion] = pending(org)
    services.suggestion_reject(suggestion=suggestion, actor=actor, reason="It is the IT spare")
    assert AuditEvent.objects.get(event="suggestion.rejected").after["reason"] == "It is the IT spare"
    assert refresh(org)["created"] == 0
    assert not pending(org)
    assert auto_mode_preview(organization=org, threshold=0.5).assign == []
    # New evidence (she signed in with SSO on it): a new fingerprint, proposed again.
    device.fleet_emails = [*device.fleet_emails, {"email": "ada@acme.test", "source": "mdm_idp_accounts"}]
    device.save(update_fields=["fleet_emails"])
    assert refresh(org)["created"] == 1
    [again] = pending(org)
    assert again.employee == employee and again.fingerprint != suggestion.fingerprint


def test_auto_assigns_only_above_the_threshold(org, employee, bob):
    mode(org, Organization.SuggestionMode.AUTO, threshold=0.9)
    confident = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    doubtful = mdm_device(org, ("bob@acme.test", "custom"))
    counts = refresh(org)
    assert counts["auto_assigned"] == 1
    confident.refresh_from_db()
    doubtful.refresh_from_db()
    assert confident.assignee == employee and doubtful.assignee is None
    assert DeviceHistory.objects.get(device=confident, action="assigned").source == Source.SUGGESTION
    accepted = Suggestion.objects.get(device=confident)
    assert accepted.status == "accepted" and accepted.automatic and accepted.decided_by == "System (tests)"
    assert AuditEvent.objects.filter(event="suggestion.auto_assigned", target_id=str(confident.pk)).exists()
    assert Suggestion.objects.get(device=doubtful).status == "pending"  # left for an admin


def test_threshold_decides(org, employee, bob):
    mode(org, Organization.SuggestionMode.AUTO, threshold=0.95)
    sso_only = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    both = mdm_device(org, ("bob@acme.test", "mdm_idp_accounts"), ("bob@acme.test", "custom"))
    preview = auto_mode_preview(organization=org)
    assert [row.device_id for row in preview.assign] == [both.pk] and preview.held == []
    assert [row.device_id for row in auto_mode_preview(organization=org, threshold=0.9).assign] == [both.pk,
                                                                                                   sso_only.pk]
    assert not Suggestion.objects.exists()  # the preview writes nothing
    refresh(org)
    sso_only.refresh_from_db()
    both.refresh_from_db()
    assert sso_only.assignee is None and both.assignee == bob


def test_auto_never_touches_an_assigned_device(org, employee, bob, actor):
    mode(org, Organization.SuggestionMode.AUTO, threshold=0.5)
    held = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    device_services.device_assign(device=held, employee=bob, actor=actor)
    # And a device assigned between the scoring and the auto step: its stored suggestion is refused.
    raced = mdm_device(org, ("ada@acme.test", "mdm_idp_accounts"))
    mode(org, Organization.SuggestionMode.SUGGEST)
    refresh(org)
    [suggestion] = pending(org)
    device_services.device_assign(device=raced, employee=bob, actor=actor)
    with pytest.raises(IllegalTransition, match="already assigned"):
        services.suggestion_accept(suggestion=suggestion, actor=SYSTEM, automatic=True)
    mode(org, Organization.SuggestionMode.AUTO, threshold=0.5)
    counts = refresh(org)
    assert counts["auto_assigned"] == 0
    held.refresh_from_db()
    raced.refresh_from_db()
    assert held.assignee == bob and raced.assignee == bob
    assert not DeviceHistory.objects.filter(source=Source.SUGGESTION).exists()


def test_bulk_decisions(org, employee, bob, actor):
    a = mdm_device(org, ("ada@acme.test", "custom"))
    b = mdm_device(org, ("bob@acme.test", "custom"))
    refresh(org)
    ids = sorted(s.pk for s in pending(org))
    with pytest.raises(InvalidInput, match="Not pending"):
        services.suggestions_decide_bulk(organization=org, ids=[*ids, 999999], decision="accept", actor=actor)
    assert len(pending(org)) == 2  # nothing changed
    with pytest.raises(InvalidInput):
        services.suggestions_decide_bulk(organization=org, ids=ids, decision="maybe", actor=actor)
    result = services.suggestions_decide_bulk(organization=org, ids=ids, decision="accept", actor=actor)
    assert result == {"accepted": 2, "failed": {}}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.assignee, b.assignee) == (employee, bob)


def test_bulk_reject_keeps_the_reason(org, employee, bob, actor):
    mdm_device(org, ("ada@acme.test", "custom"))
    mdm_device(org, ("bob@acme.test", "custom"))
    refresh(org)
    first, second = sorted(pending(org), key=lambda s: s.pk)
    result = services.suggestions_decide_bulk(organization=org, ids=[first.pk, second.pk], decision="reject",
                                              actor=actor, reason="spares")
    assert result == {"rejected": 2, "failed": {}}
    assert set(Suggestion.objects.values_list("status", "note")) == {("rejected", "spares")}


def test_other_organizations_facts_and_people_are_invisible(org, other_org, employee):
    EmployeeFactory(organization=other_org, email="bob@globex.test", full_name="Bob Globex")
    mdm_device(org, ("bob@globex.test", "mdm_idp_accounts"))
    mdm_device(other_org, ("ada@acme.test", "mdm_idp_accounts"))
    refresh(org)
    refresh(other_org)
    assert not Suggestion.objects.exists()


def test_reads_do_not_grow_with_devices_or_employees(org):
    def run_queries():
        with CaptureQueriesContext(connection) as captured:
            refresh(org)
        return len(captured)

    refresh(org)  # the organization's first run also creates its lease row (core.leases), once
    people = [EmployeeFactory(organization=org) for _ in range(3)]
    for person in people:
        mdm_device(org, (person.email, "custom"))
    small = run_queries()
    Suggestion.objects.all().delete()
    AuditEvent.objects.all().delete()
    people += [EmployeeFactory(organization=org) for _ in range(30)]
    for person in people[3:]:
        mdm_device(org, (person.email, "custom"), name=f"{person.full_name}'s laptop")
    assert run_queries() == small


def test_the_after_sync_step_is_registered_at_order_50():
    step = next(s for s in after_sync._steps if s.name == "assignment.suggestions")
    assert step.order == 50
