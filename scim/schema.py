"""What the SCIM service announces: its schemas, resource types and capabilities, as a ``scim2_models.ScimProvider``.

The schemas are RFC 7643's, cut to what the cockpit keeps, so a client (and a conformance checker) never sends an
attribute that would be silently lost:

* User: ``userName`` (the employee's e-mail), ``name``, ``displayName`` (the full name), ``emails``, ``active``,
  ``preferredLanguage`` and ``locale`` (the employee's language, ``scim.languages``), ``groups`` (read-only) and
  the common ``externalId`` (the HR key). The enterprise extension is not served: the
  employee model has no employee number nor manager.
* Group: ``displayName`` (the group's name), ``members`` (employees only; no nested groups) and ``externalId``.

The policy accepts what Okta and Microsoft Entra ID really send: attributes the schemas do not declare are ignored
(Entra maps ``title``, ``phoneNumbers``… by default), a ``remove`` with a ``value`` removes those members, and a
path filter that matches nothing (``emails[type eq "work"].value``) creates the entry. Entra's capitalised ``op``
and its ``"False"`` strings are read by scim2-models itself.
"""

import copy
from functools import cache

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    Pagination,
    Patch,
    ResourceType,
    Schema,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)
from scim2_server.utils import load_json_resource

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_RESULTS = 200
DEFAULT_PAGE_SIZE = 100

USER_ATTRIBUTES = ("userName", "name", "displayName", "active", "emails", "groups", "preferredLanguage", "locale")
GROUP_ATTRIBUTES = ("displayName", "members")


def _trimmed(schema: dict, names: tuple[str, ...]) -> dict:
    schema = copy.deepcopy(schema)
    schema["attributes"] = [attribute for attribute in schema["attributes"] if attribute["name"] in names]
    return schema


def _attribute(schema: dict, name: str) -> dict:
    return next(attribute for attribute in schema["attributes"] if attribute["name"] == name)


def _sub(attribute: dict, name: str) -> dict:
    return next(sub for sub in attribute["subAttributes"] if sub["name"] == name)


def schema_documents() -> list[dict]:
    """The User and Group schemas as ``/Schemas`` publishes them."""
    rfc = {schema["id"]: schema for schema in load_json_resource("default-schemas.json")}
    user = _trimmed(rfc[USER_SCHEMA], USER_ATTRIBUTES)
    _attribute(user, "userName")["description"] = (
        "The employee's work e-mail address, unique within the organization (case-insensitive).")
    _attribute(user, "displayName")["description"] = "The employee's full name, as the cockpit shows it."
    _attribute(user, "preferredLanguage")["description"] = (
        "The employee's language for their e-mails and enrollment page: language tags as in an HTTP "
        "Accept-Language (e.g. 'fr-CA', 'en_US' or 'da, en-gb;q=0.8'); the first the cockpit speaks is used "
        "('fr-CA' is French), else the organization's language.")
    _attribute(user, "locale")["description"] = (
        "A language tag (e.g. 'fr-CA'); the employee's language when preferredLanguage names none the cockpit "
        "speaks.")
    _attribute(user, "active")["description"] = (
        "False once the employee is leaving or has left. Setting it to false never deletes anything: it starts an "
        "offboarding in the cockpit.")
    group = _trimmed(rfc[GROUP_SCHEMA], GROUP_ATTRIBUTES)
    members = _attribute(group, "members")
    members["description"] = "The employees in the group (users only: groups do not nest)."
    _sub(members, "$ref")["referenceTypes"] = ["User"]
    _sub(members, "type")["canonicalValues"] = ["User"]
    # No "display": the cockpit would answer the employee's name, not what the client wrote. Okta sends one with
    # each member; the policy ignores it like any attribute the schema does not declare.
    members["subAttributes"] = [sub for sub in members["subAttributes"] if sub["name"] != "display"]
    return [user, group]


def service_provider_config() -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        pagination=Pagination(index=True, cursor=False, default_page_size=DEFAULT_PAGE_SIZE,
                              max_page_size=MAX_RESULTS),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="API token",
            description="An API token of the organization (write scope to provision), sent as "
                        "'Authorization: Bearer <token>'.",
            primary=True,
        )],
    )


POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@cache
def provider() -> ScimProvider:
    """The one description of the service, built once per process (it is immutable)."""
    resource_types = [
        ResourceType(id="User", name="User", endpoint="/Users", description="Employees",
                     schema_=USER_SCHEMA),
        ResourceType(id="Group", name="Group", endpoint="/Groups", description="Groups of employees",
                     schema_=GROUP_SCHEMA),
    ]
    schemas = [Schema.model_validate(document) for document in schema_documents()]
    return ScimProvider.from_discovery(schemas, resource_types, config=service_provider_config(), policy=POLICY)


def user_model():
    return provider().model_for("User")


def group_model():
    return provider().model_for("Group")
