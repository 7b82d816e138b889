"""After a Fleet sync (simulator), the suggestion step scores the devices the sync left unassigned."""

from assignment.suggestion.models import Suggestion
from core.models import Employee, Organization
from devices.models import Device
from mdm_sync.simulator import employee_email, employee_name
from tests.conftest import sync_now


def _directory(org, sim):
    Employee.objects.bulk_create(
        Employee(organization=org, email=employee_email(k, sim.email_domain), full_name=employee_name(k))
        for k in range(1, sim.employee_count + 1)
    )


def _device(org, sim, situation):
    host_id = next(h for h in sim.host_ids() if sim.situation(h) == situation)
    return Device.objects.for_org(org).get(fleet_host_id=host_id)


def test_a_sync_leaves_pending_suggestions_for_unassigned_devices(connected, sim):
    org = connected
    _directory(org, sim)
    run = sync_now(org, sim)
    assert run.status == "succeeded", run.error
    step = run.follow_ups["assignment.suggestions"]
    assert step["ok"] and step["mode"] == "suggest" and step["created"] > 0
    pending = Suggestion.objects.for_org(org).filter(status="pending").select_related("device", "employee")
    assert pending.count() == step["created"]
    for suggestion in pending:
        assert suggestion.device.assignee_id is None and suggestion.device.usage == "individual"
    installer_only = _device(org, sim, "installer_only")
    assert installer_only.assignee_id is None  # DESIGN §5: enrollment needs installer and SSO to agree
    suggestion = pending.get(device=installer_only)
    [mapping] = installer_only.fleet_emails
    assert suggestion.employee.email == mapping["email"]
    assert {e["kind"] for e in suggestion.evidence_for} >= {"installer_email"}
    mismatch = _device(org, sim, "email_mismatch")
    assert mismatch.assignee_id is None
    suggestion = pending.get(device=mismatch)
    assert suggestion.evidence_against and suggestion.confidence < 0.9
    # A second sync with nothing new changes no suggestion.
    again = sync_now(org, sim)
    assert again.follow_ups["assignment.suggestions"]["created"] == 0
    assert again.follow_ups["assignment.suggestions"]["superseded"] == 0


def test_mode_off_the_sync_step_does_nothing(connected, sim):
    org = connected
    Organization.objects.filter(pk=org.pk).update(assignment_suggestion_mode="off")
    _directory(org, sim)
    run = sync_now(org, sim)
    assert run.follow_ups["assignment.suggestions"] == {"ok": True, "mode": "off"}
    assert not Suggestion.objects.exists()
