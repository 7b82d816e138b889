"""The storage scim2-server serves SCIM from: one organization's employees and groups (``scim2_server.ScimStorage``).

scim2-server validates each request, applies PUT and PATCH to the current resource and builds the answer; this
class reads through ``scim.selectors`` and writes through ``scim.services``, turning their domain errors into SCIM
errors. Each operation is one transaction (``operation``); a writing request locks the row it reads first, so two
PATCHes of one user apply one after the other, each to the other's result.
"""

from django.db import transaction
from django.utils.translation import gettext as _
from scim2_models import (
    ConflictException,
    InvalidValueException,
    NotFoundException,
    SCIMException,
    UniquenessException,
)
from scim2_server.storage import ScimStorage, SearchPage

from core.actors import Actor
from core.errors import DomainError
from scim import services
from scim.filters import filter_q
from scim.resources import group_data, group_resource, user_data, user_resource
from scim.schema import GROUP_SCHEMA, USER_SCHEMA
from scim.selectors import scim_groups, scim_users


class ServiceUnavailableException(SCIMException):
    status = 503
    _default_detail = "A service the request needs is down; try again later."  # the service's own words replace it


def scim_error(exc: DomainError) -> SCIMException:
    if isinstance(exc, services.Taken):
        return UniquenessException(detail=exc.message)
    if exc.status == 409:
        return ConflictException(detail=exc.message)
    if exc.status == 503:
        return ServiceUnavailableException(detail=exc.message)
    return InvalidValueException(detail=exc.message)


def _wants(response_parameters, name: str) -> bool:
    """Whether a response keeps the attribute ``name`` (``members``, ``groups``): the only costly ones to load."""
    if response_parameters is None:
        return True
    named = lambda paths: any(str(path).lower().rsplit(":", 1)[-1].split(".")[0] == name for path in paths or [])  # noqa: E731
    if response_parameters.attributes:
        return named(response_parameters.attributes)
    return not named(response_parameters.excluded_attributes)


class CockpitStorage(ScimStorage):
    def __init__(self, *, organization, actor: Actor, lock: bool = False):
        self.organization = organization
        self.actor = actor
        self.lock = lock

    def operation(self):
        return transaction.atomic()

    # --- reads --------------------------------------------------------------------------------

    def _users(self, *, with_groups=True):
        return scim_users(organization=self.organization, with_groups=with_groups)

    def _groups(self, *, with_members=True):
        return scim_groups(organization=self.organization, with_members=with_members)

    def _one(self, queryset, resource_id: str, label: str):
        text = str(resource_id)
        if self.lock:
            queryset = queryset.select_for_update(of=("self",))
        found = queryset.filter(pk=int(text)).first() if text.isascii() and text.isdigit() else None
        if found is None:
            raise NotFoundException(detail=_("No %(kind)s “%(id)s” in this organization.") % {
                "kind": label, "id": text[:40]})
        return found

    def get(self, resource_type, resource_id, *, response_parameters=None):
        if resource_type.name == "User":
            with_groups = _wants(response_parameters, "groups")
            employee = self._one(self._users(with_groups=with_groups), resource_id, _("user"))
            return user_resource(employee, with_groups=with_groups)
        with_members = _wants(response_parameters, "members")
        group = self._one(self._groups(with_members=with_members), resource_id, _("group"))
        return group_resource(group, with_members=with_members)

    def search(self, resource_types, search_request, *, position=None) -> SearchPage:
        strict = len(resource_types) == 1
        listings = []
        for resource_type in resource_types:
            if resource_type.name == "User":
                with_groups = _wants(search_request, "groups")
                rows = self._users(with_groups=with_groups).filter(
                    filter_q(search_request.filter, schema=USER_SCHEMA, strict=strict))
                listings.append((rows, lambda e, g=with_groups: user_resource(e, with_groups=g)))
            else:
                with_members = _wants(search_request, "members")
                matching = self._groups(with_members=False).filter(
                    filter_q(search_request.filter, schema=GROUP_SCHEMA, strict=strict)).values("pk")
                rows = self._groups(with_members=with_members).filter(pk__in=matching)
                listings.append((rows, lambda g, m=with_members: group_resource(g, with_members=m)))
        start = (search_request.start_index or 1) - 1
        count = search_request.count
        total, resources = 0, []
        for rows, build in listings:
            size = rows.count()
            if count is None or len(resources) < count:
                offset = max(0, start - total)
                wanted = None if count is None else count - len(resources)
                if offset < size:
                    window = rows[offset:] if wanted is None else rows[offset:offset + wanted]
                    resources.extend(build(row) for row in window)
            total += size
        return SearchPage(total=total, resources=resources)

    # --- writes -------------------------------------------------------------------------------

    def create(self, resource_type, resource):
        try:
            if resource_type.name == "User":
                employee, _restored = services.scim_user_create(
                    organization=self.organization, data=user_data(resource), actor=self.actor)
                return user_resource(self._users().get(pk=employee.pk))
            group = services.scim_group_create(organization=self.organization, data=group_data(resource),
                                               actor=self.actor)
            return group_resource(self._groups().get(pk=group.pk))
        except DomainError as exc:
            raise scim_error(exc) from exc

    def update(self, resource_type, resource, *, expected_version=None):
        try:
            if resource_type.name == "User":
                employee = self._one(self._users(with_groups=False), resource.id, _("user"))
                services.scim_user_update(employee=employee, data=user_data(resource), actor=self.actor)
                return user_resource(self._users().get(pk=employee.pk))
            group = self._one(self._groups(with_members=False), resource.id, _("group"))
            services.scim_group_update(group=group, data=group_data(resource), actor=self.actor)
            return group_resource(self._groups().get(pk=group.pk))
        except DomainError as exc:
            raise scim_error(exc) from exc

    def delete(self, resource_type, resource_id, *, expected_version=None) -> None:
        try:
            if resource_type.name == "User":
                employee = self._one(self._users(with_groups=False), resource_id, _("user"))
                services.scim_user_remove(employee=employee, actor=self.actor)
            else:
                group = self._one(self._groups(with_members=False), resource_id, _("group"))
                services.scim_group_delete(group=group, actor=self.actor)
        except DomainError as exc:
            raise scim_error(exc) from exc
