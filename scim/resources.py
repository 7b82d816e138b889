"""Employees and groups as SCIM resources, and SCIM resources as what the services take (pure mapping, no I/O).

A user is built from the core's truth (``userName`` is the e-mail, ``externalId`` the HR key, ``active`` false once
the employee is leaving or gone), completed with what the provider last wrote that the employee has no field for
(``name``'s parts, ``emails``). When someone changed the full name in the cockpit since, the cockpit wins:
``displayName`` and ``name.formatted`` show it. ``preferredLanguage`` and ``locale`` are given back as written
while the employee's language is the one they map to (``scim.languages``); once it is another, ``preferredLanguage``
says the employee's. An employee SCIM never wrote is shown from the core alone.
"""

import hashlib
import json

from scim.languages import LANGUAGE_ATTRIBUTES, language_of, written_languages
from scim.schema import GROUP_SCHEMA, USER_SCHEMA, group_model, user_model
from scim.services import GroupData, UserData

PROVIDER_ATTRIBUTES = ("name", "displayName", "emails")


def _version(payload: dict) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def _meta(resource_type: str, payload: dict, created, modified) -> dict:
    return {"resourceType": resource_type, "created": created.isoformat(), "lastModified": modified.isoformat(),
            "version": _version(payload)}


def _provider_view(employee) -> dict:
    scim_user = getattr(employee, "scim", None)
    if scim_user is not None and scim_user.full_name_written == employee.full_name:
        return {key: value for key, value in scim_user.attributes.items() if key in PROVIDER_ATTRIBUTES}
    view = {}
    if employee.full_name:
        view["displayName"] = employee.full_name
        view["name"] = {"formatted": employee.full_name}
    if scim_user is not None and "emails" in scim_user.attributes:
        view["emails"] = scim_user.attributes["emails"]
    else:
        view["emails"] = [{"value": employee.email, "type": "work", "primary": True}]
    return view


def _language_view(employee) -> dict:
    """``preferredLanguage`` and ``locale`` as the provider wrote them while the employee's language is the one they
    map to; once it is another (chosen in the cockpit, or never written by SCIM), the employee's language alone."""
    scim_user = getattr(employee, "scim", None)
    view = written_languages(scim_user.attributes) if scim_user is not None else {}
    if language_of(view) != employee.language:
        view = {"preferredLanguage": employee.language} if employee.language else {}
    return view


def user_resource(employee, *, with_groups: bool = True):
    """``employee`` comes from ``scim.selectors.scim_users`` (``leaving`` annotated, ``scim`` and groups loaded)."""
    payload = {
        "schemas": [USER_SCHEMA],
        "id": str(employee.pk),
        "userName": employee.email,
        "active": employee.is_active and not employee.leaving,
        **_provider_view(employee),
        **_language_view(employee),
    }
    if employee.external_id:
        payload["externalId"] = employee.external_id
    if with_groups:
        groups = [{"value": str(g.pk), "$ref": f"Groups/{g.pk}", "display": g.name, "type": "direct"}
                  for g in employee.groups.all()]
        if groups:
            payload["groups"] = groups
    scim_user = getattr(employee, "scim", None)
    modified = max(employee.updated_at, scim_user.updated_at) if scim_user else employee.updated_at
    payload["meta"] = _meta("User", payload, employee.created_at, modified)
    return user_model().model_validate(payload)


def group_resource(group, *, with_members: bool = True):
    """``group`` comes from ``scim.selectors.scim_groups`` (``scim`` and, with members, ``scim_members`` loaded)."""
    payload = {"schemas": [GROUP_SCHEMA], "id": str(group.pk), "displayName": group.name}
    scim_group = getattr(group, "scim", None)
    if scim_group is not None and scim_group.external_id:
        payload["externalId"] = scim_group.external_id
    if with_members:
        members = [{"value": str(e.pk), "$ref": f"Users/{e.pk}", "type": "User"}
                   for e in group.scim_members]
        if members:
            payload["members"] = members
    modified = max(group.updated_at, scim_group.updated_at) if scim_group else group.updated_at
    payload["meta"] = _meta("Group", payload, group.created_at, modified)
    return group_model().model_validate(payload)


def user_data(resource) -> UserData:
    dumped = resource.model_dump()
    return UserData(
        email=resource.user_name or "",
        external_id=resource.external_id,
        active=resource.active,
        attributes={key: dumped[key] for key in PROVIDER_ATTRIBUTES + LANGUAGE_ATTRIBUTES
                    if dumped.get(key) not in (None, [], {})},
    )


def _member_id(member) -> str:
    if member.value:
        return str(member.value)
    return str(member.ref or "").rstrip("/").rsplit("/", 1)[-1]


def group_data(resource) -> GroupData:
    members = resource.members or []
    return GroupData(name=resource.display_name or "", external_id=resource.external_id,
                     member_ids=[_member_id(member) for member in members],
                     member_types={str(member.type).lower() for member in members if member.type})
