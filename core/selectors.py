"""Reads of the core models that more than one caller needs."""

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Q, Value, When
from django.utils.translation import gettext

from core.caching import cached_read, memberships_key
from core.errors import InvalidInput
from core.hooks import employees_leaving as leaving_steps
from core.models import ApiToken, AuditEvent, Employee, Group, Membership
from core.rowread import RowReader


def membership_for(*, user, org_slug: str) -> Membership | None:
    return Membership.objects.select_related("organization").filter(user=user, organization__slug=org_slug).first()


def memberships_of(*, user) -> list[Membership]:
    """The user's seats with their organizations, from the cache while no membership or organization of
    theirs changed (``core.caching``; the signals in ``core.apps`` invalidate it)."""
    return cached_read(memberships_key(user.pk), lambda: list(
        Membership.objects.select_related("organization").filter(user=user).order_by("organization__name")
    ))


def employee_by_reference(*, organization, reference, field: str = "employee") -> Employee:
    """The organization's employee a caller names by id or e-mail (or an ``Employee`` already in hand);
    anything else, another organization's included, is a clear error on ``field``."""
    if isinstance(reference, Employee):
        employee = reference if reference.organization_id == organization.pk else None
    else:
        text = str(reference or "").strip()
        # isdigit() alone accepts "²" or "٣", which int() refuses (a 500); an id is ASCII digits.
        lookup = Q(pk=int(text)) if text.isascii() and text.isdigit() else Q(email__iexact=text)
        employee = Employee.objects.for_org(organization).filter(lookup).first() if text else None
    if employee is None:
        raise InvalidInput(gettext("No employee “%(reference)s” in this organization.") % {
            "reference": reference}, field=field)
    return employee


def employees_leaving(*, organization, employee_ids=None) -> dict[int, str]:
    """The organization's active employees who are on their way out, each with a sentence saying why.

    The apps that know (offboarding's open cases) answer through ``core.hooks.employees_leaving``; an
    automatic path (enrollment, suggestion, pre-assignment) never gives such an employee a device, and a
    person doing it by hand is warned first. ``employee_ids`` narrows the answer to those employees.
    """
    wanted = None if employee_ids is None else set(employee_ids)
    leaving: dict[int, str] = {}
    for outcome in leaving_steps.run(organization=organization, employee_ids=wanted).values():
        for employee_id, why in outcome.get("employees", {}).items():
            if wanted is None or employee_id in wanted:
                leaving.setdefault(employee_id, why)
    return leaving


def device_technicians(*, organization):
    """Cockpit users who may answer for a shared device: members whose role may act on devices."""
    roles = [Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.TECHNICIAN]
    return get_user_model().objects.filter(
        memberships__organization=organization, memberships__role__in=roles, is_active=True
    ).order_by("username")


# Every API request reads its token: one fixed statement (core.rowread), what the ORM's
# ApiToken.objects.select_related("organization").filter(key_hash=…, revoked_at__isnull=True).first() runs.
_TOKEN_BY_HASH = RowReader(ApiToken, "t.key_hash = %s AND t.revoked_at IS NULL", related="organization",
                           order_by="t.created_at DESC")


def api_token_for_key(key: str) -> ApiToken | None:
    if not key.startswith(ApiToken.KEY_PREFIX):
        return None
    return _TOKEN_BY_HASH.first([ApiToken.hash_key(key)])


def employee_list(*, organization):
    return (
        Employee.objects.for_org(organization)
        .prefetch_related("groups")
        .annotate(device_count=Count("devices", filter=~Q(devices__availability_status="archived")))
        .order_by("full_name", "email", "id")  # aggregation drops Meta.ordering
    )


# --- pickers: the filters' searchable fields (``/o/<slug>/lookup/employees/?q=``) ---------------------------------

LOOKUP_LIMIT = 20
LOOKUP_MAX_QUERY = 100  # characters of the typed text that are searched for


def lookup_text(query) -> str:
    """What is searched for: the typed text, trimmed and bounded; NUL characters (which PostgreSQL refuses) dropped."""
    return str(query or "").replace("\x00", "").strip()[:LOOKUP_MAX_QUERY]


def lookup_id(text: str) -> int | None:
    """The typed text as an id when it is one (ASCII digits a database integer holds), else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def employee_choice(employee: Employee) -> dict:
    """How a picker names an employee: the name (the e-mail when nameless), the e-mail beside it."""
    detail = employee.email if employee.full_name else ""
    if employee.status == Employee.Status.OFFBOARDED:
        detail = " · ".join(filter(None, [detail, str(Employee.Status.OFFBOARDED.label)]))
    return {"id": employee.pk, "label": employee.full_name or employee.email, "detail": detail}


def lookup_rank(text: str, *fields: str):
    """0 for a row whose id is ``text`` or one of whose ``fields`` starts with it, 1 otherwise: what was typed from
    the start comes first."""
    starts = Q()
    for name in fields:
        starts |= Q(**{f"{name}__istartswith": text})
    if (pk := lookup_id(text)) is not None:
        starts |= Q(pk=pk)
    return Case(When(starts, then=Value(0)), default=Value(1))


def employee_choices(*, organization, query, limit: int = LOOKUP_LIMIT) -> list[dict]:
    """At most ``limit`` of the organization's employees whose name, e-mail or user name holds ``query`` (or whose
    id it is), those starting with it first, then by name; one query."""
    text = lookup_text(query)
    employees = Employee.objects.for_org(organization).only("id", "full_name", "email", "status")
    ordering = ["full_name", "email", "id"]
    if text:
        match = Q(full_name__icontains=text) | Q(email__icontains=text) | Q(username__icontains=text)
        if (pk := lookup_id(text)) is not None:
            match |= Q(pk=pk)
        employees = employees.filter(match).annotate(rank=lookup_rank(text, "full_name", "email"))
        ordering.insert(0, "rank")
    return [employee_choice(employee) for employee in employees.order_by(*ordering)[:limit]]


def group_list(*, organization):
    return Group.objects.for_org(organization).annotate(
        employee_count=Count("employees", distinct=True), device_count=Count("devices", distinct=True)
    ).order_by("name", "id")


def audit_event_list(*, organization):
    return AuditEvent.objects.for_org(organization).select_related("actor_user")


def groups_by_names(*, organization, names) -> list[Group]:
    """The organization's groups named (case-insensitive) or given; raises on any unknown or foreign one.

    Accepts names (API, CSV) and Group instances (cockpit forms) alike.
    """
    given = [g for g in names if isinstance(g, Group)]
    if any(g.organization_id != organization.pk for g in given):
        raise InvalidInput(gettext("Unknown group."), field="groups")
    wanted = {name.strip().lower(): name.strip() for name in names if isinstance(name, str) and name.strip()}
    if not wanted:
        return given
    found = {g.name.lower(): g for g in Group.objects.for_org(organization).filter(name__iregex=_any_of(wanted))}
    missing = [original for key, original in wanted.items() if key not in found]
    if missing:
        raise InvalidInput(gettext("Unknown group: %(groups)s") % {"groups": ", ".join(sorted(missing))},
                           field="groups")
    return given + [found[key] for key in wanted]


def _any_of(lowered_names) -> str:
    import re

    return "^(" + "|".join(re.escape(n) for n in lowered_names) + ")$"
