"""Bulk assignment through ``devices.services.device_assign_many``: what ``device_assign`` writes, for every
device or none, within the organization."""

import pytest

from core.audit import Phrase, Source
from core.errors import DomainError, InvalidInput
from core.models import AuditEvent
from devices import services
from devices.models import DeviceHistory
from tests.factories import DeviceFactory, EmployeeFactory

pytestmark = pytest.mark.django_db


# --- bulk assignment ------------------------------------------------------------------------------


def test_assign_many_writes_what_device_assign_writes(org, actor):
    ada, bob = EmployeeFactory(organization=org), EmployeeFactory(organization=org)
    first, second = DeviceFactory(organization=org), DeviceFactory(organization=org)
    assigned = services.device_assign_many(organization=org, actor=actor, source=Source.CSV_IMPORT, assignments=[
        services.Assignment(first.pk, ada, "line 2"), services.Assignment(second.pk, bob),
    ])
    assert {d.pk for d in assigned} == {first.pk, second.pk}
    for device, owner in ((first, ada), (second, bob)):
        device.refresh_from_db()
        assert (device.availability_status, device.assignment_status, device.assignee) == ("in_use", "assigned", owner)
        assert device.version == 2
        history = device.history.get()
        assert (history.action, history.source, history.assignee_after) == ("assigned", "csv_import", owner)
        event = AuditEvent.objects.for_org(org).for_target(device).get(event="device.assigned")
        assert event.after["assignee"] == owner.email and event.source == "csv_import"
    assert AuditEvent.objects.for_org(org).get(target_id=str(first.pk), event="device.assigned").after["reason"] == (
        "line 2")


@pytest.mark.parametrize("reason", ["", "line 2", Phrase("csv_import.line", {"id": 7, "line": 2})])
def test_assign_many_writes_the_rows_device_assign_writes_field_by_field(org, actor, reason):
    """The history row and the audit entry of a bulk assignment (plain rows) are ``device_assign``'s (model
    instances), every column but the ids and the times; a reason typed by a person or given as a service's phrase."""
    ada = EmployeeFactory(organization=org)
    one, many = DeviceFactory(organization=org, name="Mac"), DeviceFactory(organization=org, name="Mac")
    services.device_assign(device=one, employee=ada, actor=actor, source=Source.CSV_IMPORT, reason=reason)
    services.device_assign_many(organization=org, actor=actor, source=Source.CSV_IMPORT,
                                assignments=[services.Assignment(many.pk, ada, reason)])

    def written(device) -> tuple[dict, dict]:
        history = DeviceHistory.objects.filter(device=device).values().get()
        event = AuditEvent.objects.for_org(org).filter(target_id=str(device.pk)).values().get()
        for row in (history, event):
            for name in ("id", "device_id", "target_id", "created_at", "updated_at"):
                row.pop(name, None)
        return history, event

    assert written(many) == written(one)
    assert written(many)[0]["reason"] == (str(reason) if reason else "")


@pytest.mark.parametrize("spoiler", ["archived", "assigned", "offboarded", "twice"])
def test_assign_many_is_all_or_nothing(org, actor, spoiler):
    ada = EmployeeFactory(organization=org)
    good, bad = DeviceFactory(organization=org), DeviceFactory(organization=org)
    employee_for_bad = ada
    if spoiler == "archived":
        services.device_archive(device=bad, actor=actor)
    elif spoiler == "assigned":
        services.device_assign(device=bad, employee=EmployeeFactory(organization=org), actor=actor)
    elif spoiler == "offboarded":
        employee_for_bad = EmployeeFactory(organization=org, status="offboarded")
    lines = [services.Assignment(good.pk, ada), services.Assignment(bad.pk, employee_for_bad)]
    if spoiler == "twice":
        lines.append(services.Assignment(good.pk, ada))
    with pytest.raises(DomainError):
        services.device_assign_many(organization=org, actor=actor, source=Source.CSV_IMPORT, assignments=lines)
    good.refresh_from_db()
    assert good.assignee_id is None and not good.history.filter(action="assigned").exists()


def test_assign_many_never_reaches_another_organizations_device(org, other_org, actor):
    mine = EmployeeFactory(organization=org)
    theirs = DeviceFactory(organization=other_org)
    with pytest.raises(InvalidInput, match="Unknown device"):
        services.device_assign_many(organization=org, actor=actor, source=Source.MANUAL,
                                    assignments=[services.Assignment(theirs.pk, mine)])
    theirs.refresh_from_db()
    assert theirs.assignee_id is None
