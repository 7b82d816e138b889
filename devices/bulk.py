"""Bulk actions on the inventory (issue #14 §3): one action applied to many devices of one organization.

Device by device, through the per-device services (``devices.services``; enrollment's fix instructions): the same
rules, refusals, audit entries and wipe requests as one device at a time. Each device is its own transaction, so one
refusal undoes nothing else; each device answers ``{device_id, serial, ok, code, detail}``:

- ``ok`` true: ``code`` says what happened (``done``, ``unchanged`` for a group it already was or was not in,
  ``sent`` for fix instructions), ``detail`` in a sentence.
- ``ok`` false: ``code`` is the service's error code (``illegal_transition``, ``conflict``, ``invalid``) and
  ``detail`` its own message; ``not_found`` for an id this organization has no device with (another organization's
  ids included: they are never touched, nor told apart).

The selection is explicit ids, or the inventory's filters (``devices.listing``'s spec: exactly the rows the list
shows). More than ``DEVICES_BULK_MAX_DEVICES`` is refused before anything is done; more than
``DEVICES_BULK_SYNC_MAX_DEVICES`` runs as a job (``core.jobs``, kind :data:`BULK_JOB`, registered from
``devices.wiring``) whose result is the same body.

Actions are registered (:func:`register_bulk_action`): the devices app's own moves and group changes here, and
apps above it add theirs from their wiring (``enrollment`` adds ``send_fix_instructions``).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.actors import Actor
from core.errors import DomainError, InvalidInput
from core.jobs import JobRun, job_start
from core.models import Employee, Group, Organization
from core.selectors import employee_by_reference
from devices import rules, services
from devices.listing import DeviceListing
from devices.models import Device

BULK_JOB = "devices.bulk"
LOAD_CHUNK = 500  # devices read per statement while a bulk action runs
CHECK_EVERY = 50  # a job checks it still holds its lease every this many devices


def max_devices() -> int:
    return int(getattr(settings, "DEVICES_BULK_MAX_DEVICES", 10_000))


def sync_max_devices() -> int:
    return int(getattr(settings, "DEVICES_BULK_SYNC_MAX_DEVICES", 200))


# --- the actions ---------------------------------------------------------------------------------------------


class NothingToDo(DomainError):
    """An action's refusal that is no error of the device's state (no fix instructions to send): reported with its
    own ``code``."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BulkArguments:
    """What an action needs besides the device: resolved once for the whole selection."""

    employee: Employee | None = None
    group: Group | None = None
    wipe: bool | None = None  # None: not decided by the caller (the service's own default and rules apply)
    remove_from_fleet: bool = False  # also release each device from the MDM (archive only), as the single archive
    reason: str = ""

    def as_params(self) -> dict:
        """JSON for a job's parameters (ids, read again when the job runs)."""
        return {"employee": self.employee.pk if self.employee else None, "group": self.group.pk if self.group else None,
                "wipe": self.wipe, "remove_from_fleet": self.remove_from_fleet, "reason": self.reason}


@dataclass(frozen=True)
class BulkAction:
    """One bulk action: ``apply(device, arguments, actor, source)`` returns ``(code, detail)`` or raises a domain
    error. ``needs`` names the argument it requires (``employee``, ``group``) if any; ``summary`` says what will
    happen, for the confirmation page (``%(employee)s`` and ``%(group)s`` are filled in)."""

    name: str
    label: str | Promise
    summary: str | Promise
    apply: Callable[[Device, BulkArguments, Actor, str], tuple[str, str]]
    needs: str | None = None
    offers_wipe: bool = False
    offers_removal: bool = False  # "also remove from Fleet" (``remove_from_fleet``), as the single move offers it
    danger: bool = False
    order: int = 100


BULK_ACTIONS: dict[str, BulkAction] = {}


def register_bulk_action(action: BulkAction) -> None:
    """An app adds an action from its wiring; a name is registered once (again with the same function)."""
    existing = BULK_ACTIONS.get(action.name)
    if existing is not None and existing.apply is not action.apply:
        raise ValueError(f"Bulk action {action.name!r} is registered twice with different functions")
    BULK_ACTIONS[action.name] = action


def bulk_actions() -> list[BulkAction]:
    """The registered actions, in the order the cockpit offers them."""
    return sorted(BULK_ACTIONS.values(), key=lambda action: (action.order, action.name))


def bulk_action(name: str) -> BulkAction:
    action = BULK_ACTIONS.get(name)
    if action is None:
        raise InvalidInput(_("Unknown bulk action “%(name)s”: use one of %(allowed)s.") % {
            "name": name, "allowed": ", ".join(a.name for a in bulk_actions())}, field="action")
    return action


def _wipe(arguments: BulkArguments) -> dict:
    return {} if arguments.wipe is None else {"wipe": arguments.wipe}


def _assign(device, arguments, actor, source):
    services.device_assign(device=device, employee=arguments.employee, actor=actor, source=source,
                           reason=arguments.reason)
    return "done", _("Assigned to %(name)s.") % {"name": arguments.employee.display_name}


def _unassign(device, arguments, actor, source):
    services.device_unassign(device=device, actor=actor, source=source, reason=arguments.reason, **_wipe(arguments))
    return "done", _("Unassigned.") + (" " + _("Wipe requested.") if arguments.wipe else "")


def _return_to_stock(device, arguments, actor, source):
    services.device_return_to_stock(device=device, actor=actor, source=source, reason=arguments.reason,
                                    **_wipe(arguments))
    return "done", _("Returned to stock.") + (" " + _("Wipe requested.") if arguments.wipe else "")


def _archive(device, arguments, actor, source):
    """As the single archive: a removal from Fleet waits for the wipe asked with it; a device Fleet does not know is
    refused when its removal is asked (the service's own rule and message)."""
    services.device_archive(device=device, actor=actor, source=source, reason=arguments.reason,
                            remove_from_fleet=arguments.remove_from_fleet, **_wipe(arguments))
    return "done", " ".join([_("Archived.")] + ([_("Wipe requested.")] if arguments.wipe else [])
                            + ([_("Removal from Fleet requested.")] if arguments.remove_from_fleet else []))


def _group_names_and_version(device: Device) -> tuple[list[str], int]:
    """The device's group names and version as they are now (the edit below is refused if either changes)."""
    names = sorted(Device.groups.through.objects.filter(device_id=device.pk).values_list("group__name", flat=True))
    version = Device.objects.filter(pk=device.pk).values_list("version", flat=True).first()
    return names, version


def _add_to_group(device, arguments, actor, source):
    names, version = _group_names_and_version(device)
    name = arguments.group.name
    if name in names:
        return "unchanged", _("Already in %(group)s.") % {"group": name}
    services.device_update(device=device, actor=actor, groups=[*names, name], expected_version=version)
    return "done", _("Added to %(group)s.") % {"group": name}


def _remove_from_group(device, arguments, actor, source):
    names, version = _group_names_and_version(device)
    name = arguments.group.name
    if name not in names:
        return "unchanged", _("Not in %(group)s.") % {"group": name}
    services.device_update(device=device, actor=actor, groups=[n for n in names if n != name], expected_version=version)
    return "done", _("Removed from %(group)s.") % {"group": name}


# The devices app's own actions, registered from ``devices.wiring``.
DEVICE_BULK_ACTIONS = (
    BulkAction("assign", gettext_lazy("Assign to an employee"), gettext_lazy(
        "Each device without an owner is assigned to %(employee)s and is in use. Devices that have an owner, "
        "archived and shared devices are refused, each with its reason."), _assign, needs="employee", order=10),
    BulkAction("unassign", gettext_lazy("Unassign"), gettext_lazy(
        "Each device loses its owner and stays in use, to assign. Devices without an owner and archived devices "
        "are refused, each with its reason."), _unassign, offers_wipe=True, order=20),
    BulkAction("return_to_stock", gettext_lazy("Return to stock"), gettext_lazy(
        "Each device goes back to stock: nobody has it. Devices already in stock and archived devices are refused, "
        "each with its reason."), _return_to_stock, offers_wipe=True, order=30),
    BulkAction("add_to_group", gettext_lazy("Add to a group"), gettext_lazy(
        "Each device joins the group %(group)s (devices already in it are left as they are)."), _add_to_group,
        needs="group", order=40),
    BulkAction("remove_from_group", gettext_lazy("Remove from a group"), gettext_lazy(
        "Each device leaves the group %(group)s (devices not in it are left as they are)."), _remove_from_group,
        needs="group", order=50),
    BulkAction("archive", gettext_lazy("Archive"), gettext_lazy(
        "Each device is removed from the fleet; its history is kept. Devices already archived are refused."),
        _archive, offers_wipe=True, offers_removal=True, danger=True, order=90),
)


# --- arguments and selection ---------------------------------------------------------------------------------


def bulk_arguments(*, organization: Organization, action: BulkAction, employee=None, group=None, wipe=None,
                   remove_from_fleet=None, reason: str = "") -> BulkArguments:
    """The action's arguments as objects of ``organization``: an employee by id or e-mail, a group by id or name.
    A missing or unknown one, or a wipe or removal from Fleet an action does not offer, is a clear error before
    anything is done."""
    resolved_employee = resolved_group = None
    if action.needs == "employee":
        if employee in (None, ""):
            raise InvalidInput(_("This action needs an employee."), field="arguments.employee")
        resolved_employee = employee_by_reference(organization=organization, reference=employee,
                                                  field="arguments.employee")
    if action.needs == "group":
        resolved_group = group if isinstance(group, Group) else _group_by_reference(organization, group)
        if resolved_group is None or resolved_group.organization_id != organization.pk:
            raise InvalidInput(_("This action needs a group of this organization."), field="arguments.group")
    if wipe and not action.offers_wipe:
        raise InvalidInput(_("Wipe is not offered with this action."), field="arguments.wipe")
    if remove_from_fleet and not action.offers_removal:
        raise InvalidInput(_("Removal from Fleet is not offered with this action."),
                           field="arguments.remove_from_fleet")
    return BulkArguments(employee=resolved_employee, group=resolved_group,
                         wipe=bool(wipe) if action.offers_wipe and wipe is not None else None,
                         remove_from_fleet=bool(remove_from_fleet) and action.offers_removal,
                         reason=(reason or "").strip()[:500])


def _group_by_reference(organization, reference) -> Group | None:
    text = str(reference if reference is not None else "").strip()
    if not text:
        return None
    groups = Group.objects.for_org(organization)
    if text.isascii() and text.isdigit():
        return groups.filter(pk=int(text)).first()
    return groups.filter(name__iexact=text).first()


def selection_from_ids(ids: Iterable) -> list[int]:
    """Explicit ids, each once, in the order given; more than the maximum is refused."""
    unique = list(dict.fromkeys(int(pk) for pk in ids))
    if not unique:
        raise InvalidInput(_("Select at least one device."), field="ids")
    _check_size(len(unique), "ids")
    return unique


def selection_from_spec(*, organization: Organization, spec: dict) -> list[int]:
    """The ids of every device the inventory lists under ``spec`` (``devices.listing``), in its order."""
    ids = DeviceListing(organization_id=organization.pk, spec=spec, columns=("id",), rows=list).matching_ids(
        limit=max_devices() + 1)
    if not ids:
        raise InvalidInput(_("No device matches these filters."), field="filters")
    _check_size(len(ids), "filters")
    return ids


def _check_size(count: int, field_name: str) -> None:
    if count > max_devices():
        raise InvalidInput(_("A bulk action takes at most %(max)s devices; narrow the selection.") % {
            "max": f"{max_devices():,}"}, field=field_name)


def runs_as_job(device_ids: list[int]) -> bool:
    return len(device_ids) > sync_max_devices()


def leaving_warnings(*, organization: Organization, arguments: BulkArguments) -> list[dict]:
    """What a person assigning these devices should know first (the single move's warnings)."""
    if arguments.employee is None:
        return []
    return rules.leaving_warnings_for(organization=organization, employee=arguments.employee)


# --- running -------------------------------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    action: str
    results: list[dict] = field(default_factory=list)

    def as_body(self) -> dict:
        succeeded = sum(1 for result in self.results if result["ok"])
        return {"action": self.action, "total": len(self.results), "succeeded": succeeded,
                "failed": len(self.results) - succeeded, "results": self.results}


def devices_bulk_run(
    *, organization: Organization, actor: Actor, action: BulkAction, device_ids: list[int], arguments: BulkArguments,
    source: str, progress: Callable[[int, int], None] | None = None, check: Callable[[], None] | None = None,
) -> dict:
    """Apply ``action`` to each device of ``device_ids`` of ``organization``, each in its own transaction (the
    service's); the body ``{action, total, succeeded, failed, results}``, results in the order of the ids."""
    outcome = BulkOutcome(action=action.name)
    total = len(device_ids)
    devices = Device.objects.for_org(organization).select_related("assignee", "responsible_technician")
    for start in range(0, total, LOAD_CHUNK):
        chunk = device_ids[start:start + LOAD_CHUNK]
        loaded = devices.in_bulk(chunk)
        for device in loaded.values():
            device.organization = organization  # the services read it: not once per device from the database
        for index, pk in enumerate(chunk, start=start):
            if check is not None and index % CHECK_EVERY == 0:
                check()
            outcome.results.append(_one(loaded.get(pk), pk, action, arguments, actor, source))
            if progress is not None:
                progress(index + 1, total)
    return outcome.as_body()


def _one(device: Device | None, pk: int, action: BulkAction, arguments: BulkArguments, actor: Actor,
         source: str) -> dict:
    if device is None:
        return {"device_id": pk, "serial": None, "ok": False, "code": "not_found",
                "detail": _("No device #%(id)s in this organization.") % {"id": pk}}
    result = {"device_id": pk, "serial": device.serial_number or None}
    try:
        code, detail = action.apply(device, arguments, actor, source)
    except DomainError as exc:
        return result | {"ok": False, "code": exc.code, "detail": str(exc.message)}
    return result | {"ok": True, "code": code, "detail": str(detail)}


def devices_bulk_start(
    *, organization: Organization, actor: Actor, action: BulkAction, device_ids: list[int], arguments: BulkArguments,
    source: str,
):
    """A selection above the request's threshold: a job (``core.jobs``) whose result is the same body."""
    return job_start(
        organization=organization, actor=actor, kind=BULK_JOB, total=len(device_ids),
        phase=str(action.label),
        params={"action": action.name, "ids": device_ids, "arguments": arguments.as_params(), "source": source},
    )


def devices_bulk_job(run: JobRun) -> dict:
    """The job's handler: the arguments are read again (an employee or group deleted meanwhile fails the job)."""
    params = run.params
    action = bulk_action(params.get("action", ""))
    raw = params.get("arguments") or {}
    arguments = bulk_arguments(organization=run.organization, action=action, employee=raw.get("employee"),
                               group=raw.get("group"), wipe=raw.get("wipe"),
                               remove_from_fleet=raw.get("remove_from_fleet"), reason=raw.get("reason", ""))
    ids = [int(pk) for pk in params.get("ids", [])]
    run.progress(0, len(ids), str(action.label))
    return devices_bulk_run(organization=run.organization, actor=run.actor, action=action, device_ids=ids,
                            arguments=arguments, source=params.get("source", ""),
                            progress=lambda done, total: run.progress(done, total), check=run.check)
