"""End to end: the sync stores a host's local accounts, and a suggestion follows from them alone."""

from assignment.suggestion.models import Suggestion
from core.models import Employee
from devices.models import Device
from mdm_sync.simulator import employee_email, employee_name, employee_username
from tests.conftest import sync_now


def _directory(org, sim):
    Employee.objects.bulk_create(
        Employee(organization=org, email=employee_email(k, sim.email_domain), full_name=employee_name(k),
                 username=employee_username(k, sim.email_domain), domain_name="DEMO")
        for k in range(1, sim.employee_count + 1)
    )


def test_a_device_that_names_no_one_but_its_local_account_gets_a_suggestion(connected, sim):
    """A Windows laptop set up with a generic installer: no e-mail, a name like LAPTOP-XXXX; its owner's
    local account is the only evidence. A shared kiosk's account names no one."""
    org = connected
    _directory(org, sim)
    hosts = [sim.host_json(h) for h in sim.ids_in_situation("generic_installer")]
    windows = [h for h in hosts if h["platform"] == "windows"]
    owned = next(h for h in windows if h["users"][-1]["username"] not in ("kiosk", "frontdesk", "meetingroom"))
    kiosks = [h for h in hosts if h["users"] and h["users"][-1]["username"] in ("kiosk", "frontdesk", "meetingroom")]
    assert kiosks
    run = sync_now(org, sim)
    assert run.status == "succeeded", run.error
    device = Device.objects.for_org(org).get(fleet_host_id=owned["id"])
    account = owned["users"][-1]["username"]
    assert device.fleet_emails == [] and device.local_accounts == [account]
    suggestion = Suggestion.objects.for_org(org).get(device=device, status="pending")
    assert suggestion.employee.username == account
    assert [e["kind"] for e in suggestion.evidence_for] == ["local_account"]
    for kiosk in kiosks:
        device = Device.objects.for_org(org).get(fleet_host_id=kiosk["id"])
        assert device.local_accounts == [kiosk["users"][-1]["username"]]
        found = Suggestion.objects.for_org(org).filter(device=device, status="pending").first()
        assert found is None or "local_account" not in {e["kind"] for e in found.evidence_for}
