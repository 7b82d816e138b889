"""Pre-assignment's audit events, after-sync step and panels, connected from ``AssignmentConfig.ready``."""

from core.panels import Panel

EVENTS = {
    "pre_assignment.created": "{actor} pre-assigned {target} to {after[employee]}",
    "pre_assignment.updated": "{actor} edited the pre-assignment {target}",
    "pre_assignment.cancelled": "{actor} cancelled the pre-assignment {target}",
    "pre_assignment.applied": "{actor} applied the pre-assignment {target} to the device {after[device]}",
    "pre_assignment.conflict": "{actor} found the pre-assignment {target} in conflict: {after[note]}",
    "pre_assignment.held": "{actor} kept the pre-assignment {target} waiting: {after[note]}",
    "pre_assignment.settled": "{actor} settled the pre-assignment conflict {target}: {after[decision]}",
    "csv_import.committed": "{actor} committed {target}: {after[summary]}",
}


def apply_pre_assignments(*, organization, run, device_ids, actor) -> dict:
    """After each sync (order 10, before enrollment's automatic assignment): apply what is now applicable."""
    from assignment.services import pre_assignments_apply

    return pre_assignments_apply(organization=organization, actor=actor, device_ids=device_ids)


def apply_to_new_device(*, device, actor, **kwargs) -> dict:
    """A device just added by hand or by the API applies its pre-assignment at once (devices.hooks.device_created)."""
    from assignment.services import pre_assignment_apply_for_device

    return pre_assignment_apply_for_device(device=device, actor=actor)


def cancel_pre_assignments(*, employee, actor, **kwargs) -> dict:
    from assignment.services import pre_assignments_cancel_for_employee

    return {"pre_assignments_cancelled": pre_assignments_cancel_for_employee(employee=employee, actor=actor)}


def device_panel(request, device):
    """"Pre-assigned to …, awaiting activation" (or the conflict to settle) on the device page."""
    from assignment.selectors import pending_pre_assignment_for

    pa = pending_pre_assignment_for(device)
    if pa is None:
        return None
    return Panel(template="assignment/_device_panel.html", context={"pre_assignment": pa}, title="Pre-assignment")


def employee_panel(request, employee):
    from assignment.selectors import pre_assignments_of

    pending = list(pre_assignments_of(employee)[:50])
    if not pending:
        return None
    return Panel(template="assignment/_employee_panel.html", context={"pre_assignments": pending},
                 title="Pre-assigned devices")


def connect() -> None:
    from core.audit import register_events
    from core.hooks import employee_offboarded
    from core.panels import device_panels, employee_panels
    from devices.hooks import device_created
    from mdm_sync.hooks import after_sync

    register_events(EVENTS)
    after_sync.register(apply_pre_assignments, order=10, name="pre_assignment")
    employee_offboarded.register(cancel_pre_assignments, order=10, name="pre_assignment")
    device_created.register(apply_to_new_device, order=10, name="pre_assignment")
    device_panels.register(device_panel, order=10)
    employee_panels.register(employee_panel, order=10)
