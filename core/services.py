"""State changes of the core: organizations, memberships, people, groups, API tokens.

Each function is keyword-only, takes the ``actor``, runs in one transaction, validates first and
raises a :class:`~core.errors.DomainError` instead of half-applying anything.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.errors import InvalidInput
from core.hooks import employee_created, groups_changed_on_commit
from core.languages import SESSION_KEY, supported
from core.models import ApiToken, Employee, Group, Membership, Organization, UserPreference
from core.selectors import groups_by_names

# --- organizations -------------------------------------------------------------------------

ORGANIZATION_SETTINGS = (
    "assignment_suggestion_mode",
    "offline_threshold_days",
    "agent_inactive_threshold_hours",
    "auto_unenroll_enabled",
    "auto_unenroll_after_days",
    "auto_unenroll_reinvite",
    "auto_unenroll_action",
    "auto_unenroll_max_share_percent",
    "suggestion_confidence_threshold",
    "invite_employees_on_create",
    "offboarding_default_action",
    "offboarding_hold_until_wipe",
    "language",
)


@transaction.atomic
def organization_create(*, slug: str, name: str, actor: Actor) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise InvalidInput(gettext("An organization with the slug “%(slug)s” already exists.") % {
            "slug": slug}, field="slug")
    organization = Organization.objects.create(slug=slug, name=name)
    audit_record(organization=organization, actor=actor, event="organization.created", target=organization)
    return organization


@transaction.atomic
def organization_update_settings(*, organization: Organization, actor: Actor, **changes) -> Organization:
    unknown = set(changes) - set(ORGANIZATION_SETTINGS)
    if unknown:
        raise InvalidInput(gettext("Unknown setting: %(names)s") % {
            "names": ', '.join(sorted(unknown))}, field=sorted(unknown)[0])
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {k: getattr(locked, k) for k in changes}
    for key, value in changes.items():
        setattr(locked, key, value)
    locked.full_clean(exclude=["slug", "name"])
    locked.save(update_fields=list(changes))
    audit_record(
        organization=locked, actor=actor, event="organization.settings_updated", target=locked,
        before=before, after=changes,
    )
    return locked


@transaction.atomic
def membership_add(*, organization: Organization, user, role: str, actor: Actor, source: str = "",
                   details: dict | None = None) -> Membership:
    """``user`` a member of ``organization`` with ``role`` (the role updated when already one). ``source`` and
    ``details`` go to the audit entry (e.g. "sso" and the e-mail the identity provider vouched for)."""
    if role not in Membership.Role.values:
        raise InvalidInput(gettext("Unknown role “%(role)s”.") % {"role": role}, field="role")
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    audit_record(organization=organization, actor=actor, event="membership.created", target=user, source=source,
                 after={"role": role, **(details or {})})
    return membership


# --- users ----------------------------------------------------------------------------------------


@transaction.atomic
def user_preference_set(*, user, language: str, session=None) -> UserPreference:
    """A cockpit user's language ("" for the switcher's or browser's), across their organizations. Not audited: it
    belongs to no organization and changes nothing an organization owns. ``session``: the request's, updated so
    the next page speaks it (``core.middleware.UserLanguageMiddleware``)."""
    language = (language or "").strip()
    if language and not supported(language):
        raise InvalidInput(gettext("Unknown language “%(language)s”.") % {"language": language}, field="language")
    preference, _ = UserPreference.objects.update_or_create(user=user, defaults={"language": language})
    if session is not None:
        session[SESSION_KEY] = language
    return preference


# --- API tokens ----------------------------------------------------------------------------


@transaction.atomic
def api_token_create(*, organization: Organization, name: str, scope: str, actor: Actor) -> tuple[ApiToken, str]:
    """Returns the token and its key. The key is not stored and cannot be shown again."""
    if scope not in ApiToken.Scope.values:
        raise InvalidInput(gettext("Unknown scope “%(scope)s”: use read or write.") % {"scope": scope}, field="scope")
    if not name.strip():
        raise InvalidInput(gettext("A token needs a name."), field="name")
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        organization=organization,
        name=name.strip(),
        scope=scope,
        key_hash=ApiToken.hash_key(key),
        key_hint=key[:10],
        created_by=actor.user,
    )
    audit_record(
        organization=organization, actor=actor, event="api_token.created", target=token, after={"scope": scope}
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(organization=token.organization, actor=actor, event="api_token.revoked", target=token)
    return token


# --- groups --------------------------------------------------------------------------------


def _check_group_name(*, organization, name: str, exclude_pk=None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(gettext("A group needs a name."), field="name")
    clash = Group.objects.for_org(organization).filter(name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise InvalidInput(gettext("A group named “%(name)s” already exists.") % {"name": name}, field="name")
    return name


@transaction.atomic
def group_create(*, organization: Organization, name: str, description: str = "", actor: Actor,
                 source: str = "") -> Group:
    name = _check_group_name(organization=organization, name=name)
    group = Group.objects.create(organization=organization, name=name, description=description)
    audit_record(organization=organization, actor=actor, event="group.created", target=group, source=source,
                 after={"name": name})
    return group


@transaction.atomic
def group_update(*, group: Group, actor: Actor, name: str | None = None, description: str | None = None,
                 source: str = "") -> Group:
    before = {"name": group.name, "description": group.description}
    if name is not None:
        group.name = _check_group_name(organization=group.organization, name=name, exclude_pk=group.pk)
    if description is not None:
        group.description = description
    group.save()
    audit_record(
        organization=group.organization, actor=actor, event="group.updated", target=group, source=source,
        before=before, after={"name": group.name, "description": group.description},
    )
    if group.name != before["name"]:  # e.g. its Fleet label is renamed
        groups_changed_on_commit(organization=group.organization, group_ids=[group.pk])
    return group


@transaction.atomic
def group_delete(*, group: Group, actor: Actor, source: str = "") -> None:
    audit_record(organization=group.organization, actor=actor, event="group.deleted", target=group, source=source,
                 before={"name": group.name})
    group_id = group.pk
    group.delete()
    groups_changed_on_commit(organization=group.organization, group_ids=[group_id])  # e.g. its Fleet label goes


@transaction.atomic
def group_set_members(*, group: Group, employees, actor: Actor, source: str = "") -> dict:
    """Make ``employees`` (the group's organization's) exactly the group's members; one audit entry names who
    joined and who left. Returns ``{"added": [...], "removed": [...]}`` (employee ids)."""
    wanted = {employee.pk: employee for employee in employees}
    if any(employee.organization_id != group.organization_id for employee in wanted.values()):
        raise InvalidInput(gettext("Unknown employee."), field="members")
    group = Group.objects.select_for_update().get(pk=group.pk, organization=group.organization)
    current = dict(group.employees.values_list("pk", "email"))
    added = sorted(set(wanted) - set(current))
    removed = sorted(set(current) - set(wanted))
    if added:
        group.employees.add(*added)
    if removed:
        group.employees.remove(*removed)
    if added or removed:
        audit_record(
            organization=group.organization, actor=actor, event="group.members_changed", target=group, source=source,
            before={"removed": sorted(current[pk] for pk in removed)},
            after={"added": sorted(wanted[pk].email for pk in added), "count": len(wanted)},
        )
    return {"added": added, "removed": removed}


# --- employees -----------------------------------------------------------------------------

EMPLOYEE_FIELDS = (
    "email", "full_name", "username", "domain_name", "external_id", "start_date", "end_date", "language",
)


def _employee_snapshot(employee: Employee) -> dict:
    data = {field: getattr(employee, field) for field in EMPLOYEE_FIELDS}
    for date_field in ("start_date", "end_date"):
        if data[date_field] is not None:
            data[date_field] = data[date_field].isoformat()
    return data


def _check_employee_unique(*, organization, email: str, external_id: str | None, exclude_pk=None) -> None:
    others = Employee.objects.for_org(organization)
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    if others.filter(email__iexact=email).exists():
        raise InvalidInput(gettext("An employee with the e-mail %(email)s already exists.") % {
            "email": email}, field="email")
    if external_id and others.filter(external_id=external_id).exists():
        raise InvalidInput(gettext("An employee with the external id “%(external_id)s” already exists.") % {
            "external_id": external_id}, field="external_id")


def _apply_employee_fields(employee: Employee, fields: dict) -> None:
    unknown = set(fields) - set(EMPLOYEE_FIELDS)
    if unknown:
        raise InvalidInput(gettext("Unknown employee field: %(names)s") % {
            "names": ', '.join(sorted(unknown))}, field=sorted(unknown)[0])
    for key, value in fields.items():
        if key == "email":
            value = (value or "").strip().lower()
            if not value:
                raise InvalidInput(gettext("An employee needs an e-mail address."), field="email")
        elif key == "external_id":
            value = (value or "").strip() or None
        elif key in ("full_name", "username", "domain_name"):
            value = (value or "").strip()
        elif key == "language":
            value = (value or "").strip() or None
            if value is not None and not supported(value):
                raise InvalidInput(gettext("Unknown language “%(language)s”: use one of %(choices)s.") % {
                    "language": value, "choices": ", ".join(dict(settings.LANGUAGES))}, field="language")
        setattr(employee, key, value)
    if employee.start_date and employee.end_date and employee.end_date < employee.start_date:
        raise InvalidInput(gettext("The end date is before the start date."), field="end_date")


def _save_employee(employee: Employee) -> None:
    _check_employee_unique(
        organization=employee.organization, email=employee.email, external_id=employee.external_id,
        exclude_pk=employee.pk,
    )
    try:
        with transaction.atomic():
            employee.save()
    except IntegrityError as exc:  # a concurrent insert won the race for the same e-mail or id
        raise InvalidInput(gettext("An employee with this e-mail or external id already "
                                   "exists."), field="email") from exc


@transaction.atomic
def employee_create(*, organization: Organization, actor: Actor, groups=None, source: str = "", **fields) -> Employee:
    employee = Employee(organization=organization)
    _apply_employee_fields(employee, fields)
    group_objs = groups_by_names(organization=organization, names=groups or [])
    _save_employee(employee)
    employee.groups.set(group_objs)
    after = _employee_snapshot(employee) | {"groups": [g.name for g in group_objs]}
    audit_record(organization=organization, actor=actor, event="employee.created", target=employee, source=source,
                 after=after)
    # After commit: e.g. enrollment invites the new employee when the organization asks for it.
    transaction.on_commit(lambda: employee_created.run(employee=employee, actor=actor))
    return employee


@transaction.atomic
def employee_update(*, employee: Employee, actor: Actor, groups=None, source: str = "", **fields) -> Employee:
    employee = Employee.objects.select_for_update().get(pk=employee.pk, organization=employee.organization)
    before = _employee_snapshot(employee) | {"groups": sorted(g.name for g in employee.groups.all())}
    _apply_employee_fields(employee, fields)
    group_objs = None if groups is None else groups_by_names(organization=employee.organization, names=groups)
    _save_employee(employee)
    if group_objs is not None:
        employee.groups.set(group_objs)
    after = _employee_snapshot(employee) | {"groups": sorted(g.name for g in employee.groups.all())}
    changed_before = {k: v for k, v in before.items() if after.get(k) != v}
    changed_after = {k: after[k] for k in changed_before}
    if changed_after:
        audit_record(
            organization=employee.organization, actor=actor, event="employee.updated", target=employee,
            source=source, before=changed_before, after=changed_after,
        )
    return employee


@transaction.atomic
def employee_upsert_by_external_id(
    *, organization: Organization, external_id: str, actor: Actor, groups=None, **fields
) -> tuple[Employee, bool]:
    """HR tools push people by their own key: create if unknown, update otherwise. Returns (employee, created)."""
    # Stored keys are stripped (``_apply_employee_fields``): look up the same form, or a repeat creates again.
    external_id = (external_id or "").strip()
    if not external_id:
        raise InvalidInput(gettext("The external id is empty."), field="external_id")
    existing = Employee.objects.for_org(organization).filter(external_id=external_id).first()
    fields["external_id"] = external_id
    if existing is None:
        return employee_create(organization=organization, actor=actor, groups=groups, **fields), True
    return employee_update(employee=existing, actor=actor, groups=groups, **fields), False
