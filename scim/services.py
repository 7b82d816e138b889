"""State changes SCIM provisioning makes: employees and groups through the core's services, deactivations through
offboarding's, each in one transaction with audit entries of source ``scim``.

``active: false`` (or ``DELETE``) never deletes anything: it starts an offboarding, drafted or scheduled as the
organization's SCIM settings say, so IT decides each device. ``active: true`` cancels only the offboarding SCIM
itself started; an offboarding an admin started, or an employee already offboarded, is left as it is (recorded).
A ``DELETE`` also detaches the employee from SCIM (it answers 404 there); a later ``POST`` of the same e-mail
provisions that same employee again.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from core import services as core_services
from core.actors import Actor
from core.audit import Phrase, audit_record
from core.errors import DomainError, InvalidInput
from core.models import Employee, Group, Organization
from offboarding import services as offboarding_services
from offboarding.models import Offboarding
from scim.events import SCIM_SOURCE
from scim.languages import clean_languages, language_of, written_languages
from scim.models import ScimGroup, ScimSettings, ScimUser
from scim.selectors import (
    open_offboarding,
    scim_employee_by_email,
    scim_removed_member_ids,
    scim_settings_for,
    scim_users,
)


class Taken(DomainError):
    """A value that must be unique in the organization is another employee's or group's (SCIM ``uniqueness``)."""

    status = 409
    code = "uniqueness"


@dataclass
class UserData:
    """A SCIM user as the cockpit reads it: what maps to the employee, and what only the provider keeps."""

    email: str
    external_id: str | None = None
    active: bool | None = None  # None: not said (a PUT or PATCH without it changes nothing)
    attributes: dict = field(default_factory=dict)  # name, displayName, emails, preferredLanguage, locale as sent

    @property
    def full_name(self) -> str:
        name = self.attributes.get("name") or {}
        parts = [name.get(key) for key in ("givenName", "middleName", "familyName")]
        full = self.attributes.get("displayName") or name.get("formatted") or " ".join(p for p in parts if p)
        return full.strip()[:200]


@dataclass
class GroupData:
    name: str
    external_id: str | None = None
    member_ids: list[str] = field(default_factory=list)
    member_types: set[str] = field(default_factory=set)  # "User" only: groups do not nest


# --- users -----------------------------------------------------------------------------------


def _clean_email(value: str) -> str:
    email = (value or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(_("userName must be the employee's e-mail address (got “%(value)s”).")
                           % {"value": value[:100]}, field="userName") from exc
    return email


def _clean_external_id(value: str | None) -> str | None:
    value = (value or "").strip()
    if len(value) > 150:
        raise InvalidInput(_("externalId is longer than 150 characters."), field="externalId")
    return value or None


def _check_user_unique(*, organization, email: str, external_id: str | None, exclude_pk=None) -> None:
    others = Employee.objects.for_org(organization)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.filter(email__iexact=email).exists():
        raise Taken(_("Another employee has the e-mail %(email)s.") % {"email": email}, field="userName")
    if external_id and others.filter(external_id=external_id).exists():
        raise Taken(_("Another employee has the externalId “%(id)s”.") % {"id": external_id}, field="externalId")


def _employee_changes(employee: Employee, data: UserData, written: dict) -> dict:
    """What the request changes in the employee. The language follows ``preferredLanguage`` (else ``locale``) when
    the provider says something new there: a language chosen in the cockpit since stays while the provider keeps
    repeating what it wrote before (Okta's routine PUT), and a tag the cockpit does not speak means the
    organization's language."""
    wanted = {"email": data.email, "external_id": data.external_id, "full_name": data.full_name}
    if written_languages(data.attributes) != written_languages(written):
        wanted["language"] = language_of(data.attributes)
    return {key: value for key, value in wanted.items() if getattr(employee, key) != value}


def _write_attributes(*, employee: Employee, scim_user: ScimUser, data: UserData, actor: Actor) -> None:
    before = scim_user.attributes if scim_user.pk else None
    scim_user.attributes = data.attributes
    scim_user.full_name_written = employee.full_name
    scim_user.save()
    if before is not None and before != data.attributes:
        changed = sorted(set(before) | set(data.attributes))
        audit_record(organization=employee.organization, actor=actor, event="scim.user_updated", target=employee,
                     source=SCIM_SOURCE,
                     before={key: before.get(key) for key in changed if before.get(key) != data.attributes.get(key)},
                     after={key: data.attributes.get(key) for key in changed
                            if before.get(key) != data.attributes.get(key)})


def _scim_user(employee: Employee) -> ScimUser:
    found = ScimUser.objects.select_for_update().filter(employee=employee).first()
    return found or ScimUser(organization=employee.organization, employee=employee)


@transaction.atomic
def scim_user_create(*, organization: Organization, data: UserData, actor: Actor) -> tuple[Employee, bool]:
    """A new employee, or the one a ``DELETE`` detached from SCIM coming back. Returns ``(employee, restored)``."""
    data.email = _clean_email(data.email)
    data.external_id = _clean_external_id(data.external_id)
    clean_languages(data.attributes)
    detached = scim_employee_by_email(organization=organization, email=data.email)
    if detached is not None and getattr(detached, "scim", None) is not None and detached.scim.removed_at:
        data.active = True if data.active is None else data.active  # a creation without "active" is an active user
        employee = scim_user_update(employee=detached, data=data, actor=actor, restoring=True)
        return employee, True
    _check_user_unique(organization=organization, email=data.email, external_id=data.external_id)
    employee = core_services.employee_create(
        organization=organization, actor=actor, source=SCIM_SOURCE,
        email=data.email, external_id=data.external_id, full_name=data.full_name,
        language=language_of(data.attributes),
    )
    _write_attributes(employee=employee, scim_user=ScimUser(organization=organization, employee=employee),
                      data=data, actor=actor)
    if data.active is False:
        _deactivate(employee=employee, actor=actor)
    return employee, False


@transaction.atomic
def scim_user_update(*, employee: Employee, data: UserData, actor: Actor, restoring: bool = False) -> Employee:
    """Bring the employee to the state the provider sent (a PUT, or a PATCH applied to the current state)."""
    organization = employee.organization
    data.email = _clean_email(data.email)
    data.external_id = _clean_external_id(data.external_id)
    clean_languages(data.attributes)
    scim_user = _scim_user(employee)
    _check_user_unique(organization=organization, email=data.email, external_id=data.external_id,
                       exclude_pk=employee.pk)
    changes = _employee_changes(employee, data, scim_user.attributes if scim_user.pk else {})
    if changes:
        employee = core_services.employee_update(employee=employee, actor=actor, source=SCIM_SOURCE, **changes)
    if restoring:
        scim_user.removed_at = None
        audit_record(organization=organization, actor=actor, event="scim.user_restored", target=employee,
                     source=SCIM_SOURCE)
    _write_attributes(employee=employee, scim_user=scim_user, data=data, actor=actor)
    if data.active is False:
        _deactivate(employee=employee, actor=actor)
    elif data.active is True:
        _reactivate(employee=employee, actor=actor)
    return employee


@transaction.atomic
def scim_user_remove(*, employee: Employee, actor: Actor) -> None:
    """``DELETE``: deactivate (nothing is deleted) and detach the employee from SCIM."""
    _deactivate(employee=employee, actor=actor)
    scim_user = _scim_user(employee)
    scim_user.removed_at = timezone.now()
    scim_user.save()
    audit_record(organization=employee.organization, actor=actor, event="scim.user_removed", target=employee,
                 source=SCIM_SOURCE)


def _deactivate(*, employee: Employee, actor: Actor, today: date | None = None) -> Offboarding | None:
    """Start the offboarding the organization's settings ask for, unless one is under way or done."""
    employee = Employee.objects.select_for_update().get(pk=employee.pk)
    if not employee.is_active:
        return None
    if open_offboarding(employee=employee) is not None:
        return None  # already leaving: SCIM shows them inactive
    case = _start_offboarding(employee=employee, actor=actor, today=today or timezone.localdate())
    scim_user = _scim_user(employee)
    scim_user.deactivation = case
    scim_user.save()
    audit_record(organization=employee.organization, actor=actor, event="scim.user_deactivated", target=employee,
                 source=SCIM_SOURCE, after={
                     "offboarding": case.pk, "offboarding_status": case.status,
                     "effective_date": case.effective_date.isoformat() if case.effective_date else None})
    return case


def _start_offboarding(*, employee: Employee, actor: Actor, today: date) -> Offboarding:
    organization = employee.organization
    settings = scim_settings_for(organization=organization)
    end_date = employee.end_date if employee.end_date and employee.end_date > today else None
    if settings.deactivation == ScimSettings.Deactivation.DRAFT:
        return offboarding_services.offboarding_start(
            organization=organization, employee=employee, actor=actor, origin=Offboarding.Origin.API,
            effective_date=end_date, today=today)
    when = max(today + timedelta(days=settings.schedule_after_days), end_date or today)
    case = offboarding_services.offboarding_start(
        organization=organization, employee=employee, actor=actor, origin=Offboarding.Origin.API,
        effective_date=when, today=today)
    return offboarding_services.offboarding_schedule(offboarding=case, actor=actor, effective_date=when, today=today)


def _reactivate(*, employee: Employee, actor: Actor) -> None:
    """Cancel the offboarding SCIM started; anything else that keeps the employee inactive is recorded, not undone."""
    case = open_offboarding(employee=employee)
    if employee.is_active and case is None:
        return  # already active: the routine PUT of a profile
    scim_user = ScimUser.objects.filter(employee=employee).first()
    if case is not None and scim_user is not None and scim_user.deactivation_id == case.pk:
        offboarding_services.offboarding_cancel(offboarding=case, actor=actor, reason=Phrase("scim.reactivated"))
        audit_record(organization=employee.organization, actor=actor, event="scim.user_reactivated",
                     target=employee, source=SCIM_SOURCE, after={"offboarding": case.pk})
        return
    if case is not None:
        why = Phrase("scim.refused_admin_offboarding", {"case": case.pk})
    else:
        why = Phrase("scim.refused_offboarded")
    audit_record(organization=employee.organization, actor=actor, event="scim.user_reactivation_refused",
                 target=employee, source=SCIM_SOURCE, after={"why": why})


# --- groups ----------------------------------------------------------------------------------


def _members(*, organization, group: Group | None, data: GroupData) -> list[Employee]:
    """The employees the provider names (ids of visible SCIM users), plus the members SCIM cannot see."""
    if data.member_types - {"user"}:
        raise InvalidInput(_("members: only users can be members; groups do not nest."), field="members")
    wanted = set()
    for value in data.member_ids:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput(_("members: no user “%(id)s” in this organization.") % {"id": text[:40]},
                               field="members")
        wanted.add(int(text))
    found = set(scim_users(organization=organization, with_groups=False).filter(pk__in=wanted)
                .values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise InvalidInput(_("members: no user “%(id)s” in this organization.") % {"id": missing[0]},
                           field="members")
    if group is not None:
        found |= scim_removed_member_ids(group=group)
    return list(Employee.objects.for_org(organization).filter(pk__in=found))


def _clean_group(*, organization, data: GroupData, exclude_pk=None) -> None:
    data.name = (data.name or "").strip()
    data.external_id = _clean_external_id(data.external_id)
    others = Group.objects.for_org(organization)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if data.name and others.filter(name__iexact=data.name).exists():
        raise Taken(_("A group named “%(name)s” already exists.") % {"name": data.name}, field="displayName")
    if data.external_id and ScimGroup.objects.for_org(organization).filter(
            external_id=data.external_id).exclude(group_id=exclude_pk).exists():
        raise Taken(_("Another group has the externalId “%(id)s”.") % {"id": data.external_id}, field="externalId")


def _write_group_external_id(*, group: Group, external_id: str | None, actor: Actor, created: bool) -> None:
    scim_group = ScimGroup.objects.select_for_update().filter(group=group).first()
    before = scim_group.external_id if scim_group else None
    if scim_group is None:
        scim_group = ScimGroup(organization=group.organization, group=group)
    scim_group.external_id = external_id
    scim_group.save()
    if before != external_id and not (created and external_id is None):
        audit_record(organization=group.organization, actor=actor, event="scim.group_updated", target=group,
                     source=SCIM_SOURCE, before={"external_id": before}, after={"external_id": external_id})


@transaction.atomic
def scim_group_create(*, organization: Organization, data: GroupData, actor: Actor) -> Group:
    _clean_group(organization=organization, data=data)
    members = _members(organization=organization, group=None, data=data)
    group = core_services.group_create(organization=organization, name=data.name, actor=actor, source=SCIM_SOURCE)
    _write_group_external_id(group=group, external_id=data.external_id, actor=actor, created=True)
    core_services.group_set_members(group=group, employees=members, actor=actor, source=SCIM_SOURCE)
    return group


@transaction.atomic
def scim_group_update(*, group: Group, data: GroupData, actor: Actor) -> Group:
    organization = group.organization
    _clean_group(organization=organization, data=data, exclude_pk=group.pk)
    members = _members(organization=organization, group=group, data=data)
    if data.name != group.name:
        group = core_services.group_update(group=group, actor=actor, name=data.name, source=SCIM_SOURCE)
    _write_group_external_id(group=group, external_id=data.external_id, actor=actor, created=False)
    core_services.group_set_members(group=group, employees=members, actor=actor, source=SCIM_SOURCE)
    return group


@transaction.atomic
def scim_group_delete(*, group: Group, actor: Actor) -> None:
    """A group is a label: deleting it removes the label (and its Fleet label), never an employee or a device."""
    core_services.group_delete(group=group, actor=actor, source=SCIM_SOURCE)


# --- settings --------------------------------------------------------------------------------

SETTINGS_FIELDS = ("deactivation", "schedule_after_days")


@transaction.atomic
def scim_settings_update(*, organization: Organization, actor: Actor, **changes) -> ScimSettings:
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise InvalidInput(gettext("Unknown setting: %(names)s") % {
            "names": ', '.join(sorted(unknown))}, field=sorted(unknown)[0])
    settings, _created = ScimSettings.objects.select_for_update().get_or_create(organization=organization)
    before = {key: getattr(settings, key) for key in changes}
    for key, value in changes.items():
        setattr(settings, key, value)
    try:
        settings.full_clean(exclude=["organization"])
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=name) from exc
    settings.save()
    after = {key: getattr(settings, key) for key in changes}
    if after != before:
        audit_record(organization=organization, actor=actor, event="scim.settings_updated", target=organization,
                     before=before, after=after)
    return settings
