"""Automatic assignment on enrollment (DESIGN §5.4), an after-sync step (order 20).

The first check is the installer's e-mail (device-mapping source ``custom``/``custom_installer``);
the second verification is the e-mail signed in on the device via SSO (``mdm_idp_accounts`` /
``identity_provider``). Both naming the same active employee assigns the device to them
(source ``enrollment``). Anything else leaves it to assign, with the reason on the device
(``auto_assignment_note``) for the admin and for assignment suggestion.

Only devices nobody has ever assigned are considered: a person's assignment, unassignment or return
to stock is never undone by enrollment.
"""

from django.db.models import Exists, OuterRef

from cockpit.actors import Actor
from cockpit.audit import Source
from cockpit.errors import DomainError
from cockpit.models import Employee
from devices import services as device_services
from devices.models import DESKTOP_PLATFORMS, AssignmentStatus, AvailabilityStatus, Device, DeviceHistory

SSO_SOURCES = {"mdm_idp_accounts", "identity_provider", "idp"}
ASSIGNMENT_ACTIONS = [
    DeviceHistory.Action.ASSIGNED, DeviceHistory.Action.UNASSIGNED, DeviceHistory.Action.REASSIGNED,
    DeviceHistory.Action.RETURNED_TO_STOCK,
]


def is_installer_source(source: str) -> bool:
    return source == "custom" or source.startswith("custom_")


def mapped_emails(fleet_emails) -> tuple[set[str], set[str]]:
    """(installer e-mails, SSO e-mails) of a device's Fleet mapping."""
    installer, sso = set(), set()
    for item in fleet_emails or []:
        email = str(item.get("email", "")).strip().lower()
        source = str(item.get("source", ""))
        if not email:
            continue
        if is_installer_source(source):
            installer.add(email)
        elif source in SSO_SOURCES:
            sso.add(email)
    return installer, sso


def decide(device: Device, employees_by_email: dict[str, Employee]) -> tuple[Employee | None, str]:
    """The employee to assign, or None and the reason (shown on the device page)."""
    if device.platform not in DESKTOP_PLATFORMS:
        return None, "Phones and tablets are not assigned from an installer: use a pre-assignment by serial number."
    installer, sso = mapped_emails(device.fleet_emails)
    if not installer:
        return None, "Generic installer: no employee e-mail came with it."
    if len(installer) > 1:
        return None, f"Several installer e-mails ({', '.join(sorted(installer))})."
    (email,) = installer
    if not sso:
        return None, f"Installer e-mail {email}; waiting for the second check (the SSO e-mail on the device)."
    if len(sso) > 1:
        return None, f"Several users signed in on the device ({', '.join(sorted(sso))})."
    (sso_email,) = sso
    if sso_email != email:
        return None, f"Mismatch: the installer names {email} but {sso_email} signed in on the device."
    employee = employees_by_email.get(email)
    if employee is None:
        return None, f"No employee with the e-mail {email}."
    if not employee.is_active:
        return None, f"{employee.display_name} ({email}) has been offboarded."
    return employee, ""


def candidates(organization):
    """Unassigned devices known to Fleet that no one has ever assigned or unassigned."""
    touched = DeviceHistory.objects.filter(device=OuterRef("pk"), action__in=ASSIGNMENT_ACTIONS)
    return (
        Device.objects.for_org(organization)
        .filter(assignee__isnull=True, assignment_status=AssignmentStatus.TO_ASSIGN,
                fleet_host_id__isnull=False)
        .exclude(availability_status=AvailabilityStatus.ARCHIVED)
        .exclude(Exists(touched))
        .only("pk", "organization_id", "platform", "fleet_emails", "auto_assignment_note", "name", "serial_number")
    )


def auto_assign_after_sync(*, organization, run=None, device_ids=None, actor=None) -> dict:
    """Assign what the two checks agree on; note why not on the others. Returns counts for the sync run."""
    devices = list(candidates(organization))
    wanted = set()
    for device in devices:
        wanted |= mapped_emails(device.fleet_emails)[0]
    employees = {
        employee.email.lower(): employee
        for employee in Employee.objects.for_org(organization).filter(email__in=sorted(wanted))
    }
    system = Actor.system("enrollment")
    assigned = noted = 0
    for device in devices:
        employee, note = decide(device, employees)
        if employee is not None:
            try:
                device_services.device_assign(device=device, employee=employee, actor=system,
                                              source=Source.ENROLLMENT,
                                              reason="Installer and SSO e-mails name the same employee")
            except DomainError as exc:  # someone assigned it meanwhile: theirs wins
                note = f"Not assigned automatically: {exc.message}"
            else:
                assigned += 1
        if device.auto_assignment_note != note:
            Device.objects.filter(pk=device.pk).update(auto_assignment_note=note[:255])
            noted += bool(note)
    return {"assigned": assigned, "not_assigned": len(devices) - assigned, "notes_changed": noted}
