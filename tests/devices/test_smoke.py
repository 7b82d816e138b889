from devices import services
from devices.models import Device


def test_assign_writes_history_and_audit(device, employee, actor):
    device = services.device_assign(device=device, employee=employee, actor=actor)
    assert (device.availability_status, device.assignment_status) == ("in_use", "assigned")
    assert device.history.count() == 1
    assert Device.objects.get(pk=device.pk).assignee == employee
