"""Reads of SCIM provisioning: the employees and groups SCIM serves, its settings, and its recent activity."""

from django.db.models import Exists, OuterRef, Prefetch, Q

from core.models import ApiToken, AuditEvent, Employee, Group
from offboarding.models import Offboarding
from scim.events import SCIM_SOURCE
from scim.models import ScimSettings

# An employee a DELETE detached from SCIM is no longer a SCIM resource (RFC 7644 §3.6: 404, left out of searches).
VISIBLE = Q(scim__isnull=True) | Q(scim__removed_at__isnull=True)


def _open_case(employee_ref):
    return Offboarding.objects.filter(employee=employee_ref, status__in=Offboarding.OPEN)


def scim_users(*, organization, with_groups: bool = True):
    """The organization's employees as SCIM serves them, oldest first (a stable order for paging by index).

    ``leaving``: an open offboarding (SCIM's ``active`` is false then, as it is for an offboarded employee).
    """
    users = (
        Employee.objects.for_org(organization).filter(VISIBLE)
        .select_related("scim")
        .annotate(leaving=Exists(_open_case(OuterRef("pk"))))
        .order_by("pk")
    )
    return users.prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name", "pk"))) \
        if with_groups else users


def scim_employee_by_email(*, organization, email: str) -> Employee | None:
    """Any employee of the organization with this e-mail, detached from SCIM or not."""
    return Employee.objects.for_org(organization).select_related("scim").filter(email__iexact=email).first()


def scim_groups(*, organization, with_members: bool = True):
    groups = Group.objects.for_org(organization).select_related("scim").order_by("pk")
    if not with_members:
        return groups
    members = Employee.objects.filter(VISIBLE).only("pk", "organization_id").order_by("pk")
    return groups.prefetch_related(Prefetch("employees", queryset=members, to_attr="scim_members"))


def scim_removed_member_ids(*, group) -> set[int]:
    """The group's members a DELETE detached from SCIM: SCIM cannot see them, so a change of members keeps them."""
    return set(group.employees.exclude(VISIBLE).values_list("pk", flat=True))


def open_offboarding(*, employee) -> Offboarding | None:
    return _open_case(employee).first()


def scim_settings_for(*, organization) -> ScimSettings:
    """The organization's settings, or the defaults (unsaved) until an admin saves them."""
    found = ScimSettings.objects.for_org(organization).first()
    return found if found is not None else ScimSettings(organization=organization)


def scim_tokens(*, organization):
    """The organization's active tokens that may provision (write scope)."""
    return ApiToken.objects.for_org(organization).filter(
        revoked_at__isnull=True, scope=ApiToken.Scope.WRITE).select_related("created_by")


def scim_activity(*, organization, limit: int = 20):
    """The latest changes SCIM made in the organization."""
    return AuditEvent.objects.for_org(organization).filter(Q(source=SCIM_SOURCE) | Q(event__startswith="scim."))[:limit]
