"""Automatic assignment on enrollment (DESIGN §5.4), an after-sync step (order 20).

The first check is the installer's e-mail (device-mapping source ``custom``/``custom_installer``);
the second verification is the e-mail signed in on the device via SSO (``mdm_idp_accounts`` /
``identity_provider``). Both naming the same active employee assigns the device to them
(source ``enrollment``). Anything else leaves it to assign, with the reason on the device
(``auto_assignment_note``) for the admin and for assignment suggestion.

Only devices nobody has ever assigned are considered: a person's assignment, unassignment or return
to stock is never undone by enrollment. Phones and tablets, and employees whose offboarding is under way,
are left to a person (``devices.rules``, the rules every automatic path follows).
"""

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from core.actors import Actor
from core.audit import Phrase, Source
from core.errors import DomainError
from core.models import Employee
from core.selectors import employees_leaving
from devices import rules
from devices import services as device_services
from devices.models import DESKTOP_PLATFORMS, AssignmentStatus, AvailabilityStatus, Device, DeviceHistory
from mdm_sync.actions import IdentityLookup
from mdm_sync.fleet import is_installer_source, is_sso_source

CHUNK = 1000
MAX_IDP_LOOKUPS = 50
ASSIGNMENT_ACTIONS = [
    DeviceHistory.Action.ASSIGNED, DeviceHistory.Action.UNASSIGNED, DeviceHistory.Action.REASSIGNED,
    DeviceHistory.Action.RETURNED_TO_STOCK,
]


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
        elif is_sso_source(source):
            sso.add(email)
    return installer, sso


def decide(device: Device, employees_by_email: dict[str, Employee],
           idp_emails: set[str] | None = None, leaving: dict[int, str] | None = None) -> tuple[Employee | None, str]:
    """The employee to assign, or None and the reason (shown on the device page).

    ``idp_emails``: the host's IdP identities from Get host ``end_users``, when they were asked for.
    ``leaving``: {employee id: why} of the employees whose offboarding is under way (never assigned here)."""
    held = rules.platform_hold_reason(device.platform)
    if held:
        return None, held
    if device.platform not in DESKTOP_PLATFORMS:
        return None, _("Only macOS, Windows and Linux devices are assigned from an installer: use a pre-assignment "
                       "by serial number.")
    installer, sso = mapped_emails(device.fleet_emails)
    sso |= idp_emails or set()
    if not installer:
        return None, gettext("Generic installer: no employee e-mail came with it.")
    if len(installer) > 1:
        return None, gettext("Several installer e-mails (%(emails)s).") % {"emails": ', '.join(sorted(installer))}
    (email,) = installer
    if not sso:
        return None, gettext("Installer e-mail %(email)s; waiting for the second check (the SSO e-mail on the "
                             "device).") % {"email": email}
    if len(sso) > 1:
        return None, gettext("Several users signed in on the device (%(emails)s).") % {"emails": ', '.join(sorted(sso))}
    (sso_email,) = sso
    if sso_email != email:
        return None, gettext("Mismatch: the installer names %(email)s but %(sso_email)s signed in on the device.") % {
            "email": email, "sso_email": sso_email}
    employee = employees_by_email.get(email)
    if employee is None:
        return None, gettext("No employee with the e-mail %(email)s.") % {"email": email}
    if not employee.is_active:
        return None, f"{employee.display_name} ({email}) has been offboarded."
    why = (leaving or {}).get(employee.pk)
    if why is not None:
        return None, rules.leaving_hold_reason(name=f"{employee.display_name} ({email})", why=why)
    return employee, ""


def candidates(organization, device_ids=None):
    """Unassigned devices known to Fleet that no one has ever assigned or unassigned (of ``device_ids``)."""
    touched = DeviceHistory.objects.filter(device=OuterRef("pk"), action__in=ASSIGNMENT_ACTIONS)
    devices = (
        Device.objects.for_org(organization)
        .filter(assignee__isnull=True, assignment_status=AssignmentStatus.TO_ASSIGN, fleet_host_id__isnull=False)
        .exclude(availability_status=AvailabilityStatus.ARCHIVED)
        .exclude(Exists(touched))
        .only("pk", "organization_id", "platform", "fleet_host_id", "fleet_emails", "auto_assignment_note", "name",
              "serial_number")
        .order_by("pk")
    )
    return devices if device_ids is None else devices.filter(pk__in=device_ids)


def auto_assign_after_sync(*, organization, run=None, device_ids=None, actor=None) -> dict:
    """Assign what the two checks agree on; note why not on the others. Returns counts for the sync run.

    Looks at the devices the sync created or updated (all candidates when ``device_ids`` is None), in
    chunks, so a 100,000-host first sync costs a few queries per thousand devices.

    The second check may come from the host's IdP identity (Get host ``end_users``, DESIGN §5.4), asked only for a
    device whose installer names an active employee and whose mapping has no SSO e-mail, at most
    ``MAX_IDP_LOOKUPS`` a run."""
    system = Actor.system("enrollment")
    assigned = looked_at = 0
    ids = None if device_ids is None else sorted(device_ids)
    with IdentityLookup(organization=organization, limit=MAX_IDP_LOOKUPS) as idp:
        for start in range(0, len(ids) if ids is not None else 1, CHUNK):
            chunk = None if ids is None else ids[start:start + CHUNK]
            devices = list(candidates(organization, chunk))
            looked_at += len(devices)
            assigned += _assign_chunk(organization, devices, idp, system)
    return {"assigned": assigned, "not_assigned": looked_at - assigned}


def _assign_chunk(organization, devices: list[Device], idp: IdentityLookup, actor: Actor) -> int:
    wanted = set()
    for device in devices:
        wanted |= mapped_emails(device.fleet_emails)[0]
    employees = {
        employee.email.lower(): employee
        for employee in Employee.objects.for_org(organization).filter(email__in=sorted(wanted))
    }
    leaving = employees_leaving(organization=organization) if employees else {}
    to_assign: list[tuple[Device, Employee]] = []
    notes: dict[int, str] = {}
    for device in devices:
        installer, sso = mapped_emails(device.fleet_emails)
        extra = None
        if device.platform in DESKTOP_PLATFORMS and len(installer) == 1 and not sso:
            owner = employees.get(next(iter(installer)))
            if owner is not None and owner.is_active and owner.pk not in leaving:
                extra = idp.emails(device.fleet_host_id)
        employee, notes[device.pk] = decide(device, employees, extra, leaving)
        if employee is not None:
            to_assign.append((device, employee))
    assigned = _assign(organization, to_assign, notes, actor)
    _write_notes(devices, notes)
    return assigned


def _assign(organization, pairs: list[tuple[Device, Employee]], notes: dict[int, str], actor: Actor) -> int:
    """In bulk (a first sync may bring thousands); if one device was assigned by someone meanwhile, the bulk
    call changes nothing and each device is tried on its own, so the others still get their owner."""
    reason = Phrase("enrollment.same_employee")
    try:
        device_services.device_assign_many(organization=organization, actor=actor, source=Source.ENROLLMENT,
                                           assignments=[device_services.Assignment(d.pk, e, reason) for d, e in pairs])
        return len(pairs)
    except DomainError:
        pass
    assigned = 0
    for device, employee in pairs:
        try:
            device_services.device_assign(device=device, employee=employee, actor=actor, source=Source.ENROLLMENT,
                                          reason=reason)
        except DomainError as exc:  # someone assigned it meanwhile: theirs wins
            notes[device.pk] = gettext("Not assigned automatically: %(message)s") % {"message": exc.message}
        else:
            assigned += 1
    return assigned


def _write_notes(devices: list[Device], notes: dict[int, str]) -> None:
    """Only the notes that changed; one UPDATE per distinct sentence (most are shared: "Generic installer…")."""
    by_note: dict[str, list[int]] = {}
    for device in devices:
        note = notes[device.pk][:255]
        if device.auto_assignment_note != note:
            by_note.setdefault(note, []).append(device.pk)
    singles = []
    for note, pks in by_note.items():
        if len(pks) > 1:
            Device.objects.filter(pk__in=pks).update(auto_assignment_note=note)
        else:
            singles.append(Device(pk=pks[0], auto_assignment_note=note))
    Device.objects.bulk_update(singles, ["auto_assignment_note"], batch_size=500)
