"""Builders and checks shared by the ``devices.services`` tests: a device put straight into one of the four legal
states, and the two outcomes every move is held to (nothing changed; exactly one history row and one audit entry)."""

from contextlib import contextmanager

from django.utils import timezone

from core.models import AuditEvent
from devices.models import Device, DeviceHistory
from tests.factories import DeviceFactory

STATES = ("in_stock", "in_use_unowned", "assigned", "archived")


def device_maker(org, employee):
    """A device of ``org`` put straight into one of the four legal states (no history written)."""

    def make(state, **extra):
        fields = {
            "in_stock": {},
            "in_use_unowned": {"availability_status": "in_use"},
            "assigned": {"availability_status": "in_use", "assignment_status": "assigned", "assignee": employee,
                         "assigned_at": timezone.now()},
            "archived": {"availability_status": "archived", "assignment_status": None,
                         "archived_at": timezone.now()},
        }[state]
        return DeviceFactory(organization=org, **(fields | extra))

    return make


def device_row(device) -> dict:
    return Device.objects.filter(pk=device.pk).values().get()


@contextmanager
def changes_nothing(device):
    """The block must leave the device row, its groups, the history and the audit log as they were."""
    row = device_row(device)
    groups = sorted(device.groups.values_list("pk", flat=True))
    history = DeviceHistory.objects.count()
    audit = AuditEvent.objects.count()
    yield
    assert device_row(device) == row
    assert sorted(Device.objects.get(pk=device.pk).groups.values_list("pk", flat=True)) == groups
    assert DeviceHistory.objects.count() == history
    assert AuditEvent.objects.count() == audit


@contextmanager
def one_history_and_audit(device):
    """The block must add exactly one history row for ``device`` and exactly one audit entry; yields both."""
    history_ids = set(DeviceHistory.objects.values_list("pk", flat=True))
    audit_ids = set(AuditEvent.objects.values_list("pk", flat=True))
    written = {}
    yield written
    new_history = DeviceHistory.objects.exclude(pk__in=history_ids)
    new_audit = AuditEvent.objects.exclude(pk__in=audit_ids)
    assert new_history.count() == 1
    assert new_audit.count() == 1
    written["history"] = new_history.get()
    written["audit"] = new_audit.get()
    assert written["history"].device_id == device.pk
    assert written["audit"].target_type == "devices.device"
    assert written["audit"].target_id == str(device.pk)
    assert written["audit"].organization_id == device.organization_id


def statuses(device) -> tuple:
    device = Device.objects.get(pk=device.pk)
    return device.availability_status, device.assignment_status, device.assignee_id

