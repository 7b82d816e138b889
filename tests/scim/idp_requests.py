"""Request bodies as Okta and Microsoft Entra ID send them, from their documentation:

* Okta: "Okta and SCIM Version 2.0" (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20): lowercase ops,
  a deactivation as ``replace`` without a path, members with a ``display``, group renames carrying the ``id``.
* Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint" (learn.microsoft.com, app-provisioning
  use-scim-to-provision-users-and-groups): capitalised ops, ``"False"`` as a string, filtered paths such as
  ``emails[type eq "work"].value``, member removal carrying a ``value``, the enterprise extension and Microsoft's
  own group schema URN in ``schemas``.

The values are the documents' own, except ``userName``: the cockpit's is the work e-mail (Entra's default mapping
sends the userPrincipalName, an e-mail address; the tutorial's samples use placeholders).
"""

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


# --- Okta ------------------------------------------------------------------------------------

def okta_create_user(email="test.user@okta.local"):
    return {
        "schemas": [USER], "userName": email,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq", "active": True,
    }


def okta_replace_user(user_id, email="test.user@okta.local", **changes):
    """PUT /Users/{id}: the whole profile, ``active`` included."""
    body = {
        "schemas": [USER], "id": user_id, "userName": email,
        "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": "Another User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "active": True, "meta": {"resourceType": "User"},
    }
    return body | changes


OKTA_DEACTIVATE = _patch({"op": "replace", "value": {"active": False}})
OKTA_REACTIVATE = _patch({"op": "replace", "value": {"active": True}})
OKTA_PASSWORD = _patch({"op": "replace", "value": {"password": "t1meMa$heen"}})


def okta_create_group(name="Test SCIMv2"):
    return {"schemas": [GROUP], "displayName": name, "members": []}


def okta_rename_group(group_id, name="Test SCIMv2 renamed"):
    return _patch({"op": "replace", "value": {"id": group_id, "displayName": name}})


def okta_add_members(*members):
    """``members``: (id, display) pairs."""
    return _patch({"op": "add", "path": "members",
                   "value": [{"value": user_id, "display": display} for user_id, display in members]})


def okta_remove_member(user_id):
    return _patch({"op": "remove", "path": f'members[value eq "{user_id}"]'})


def okta_replace_members(*members):
    return _patch({"op": "replace", "path": "members",
                   "value": [{"value": user_id, "display": display} for user_id, display in members]})


# --- Microsoft Entra ID ----------------------------------------------------------------------

def entra_create_user(email="test_user@contoso.test", external_id="0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"):
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": email,
        "active": True,
        "addresses": [{"primary": False, "type": "work", "formatted": "1 Microsoft Way Redmond WA 98052 USA"}],
        "displayName": "Test User",
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "phoneNumbers": [{"type": "work", "value": "+1 425 555 0100"}],
        "roles": [],
        "title": "title",
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations",
                     "manager": {"value": "123"}},
    }


def entra_create_user_with_language(email="test_user@contoso.test", language="fr-CA"):
    """Entra's default attribute mappings include ``preferredLanguage → preferredLanguage`` (the directory's
    preferred language, an RFC 7231 language tag such as ``fr-CA``)."""
    return entra_create_user(email) | {"preferredLanguage": language}


def entra_set_language(language):
    return _patch({"op": "Replace", "path": "preferredLanguage", "value": language})


def entra_user_filter(email):
    return f'/Users?filter=userName eq "{email}"'


ENTRA_UPDATE_USER = _patch(
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.test"},
    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
)
ENTRA_DISABLE_USER = _patch({"op": "Replace", "path": "active", "value": "False"})
ENTRA_ENABLE_USER = _patch({"op": "Replace", "path": "active", "value": "True"})
ENTRA_ADD_MANAGER = _patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "2819c223-7f76-453a-919d"})


def entra_create_group(name="displayName", external_id="8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"):
    return {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": external_id, "displayName": name, "meta": {"resourceType": "Group"},
    }


def entra_group_filter(name):
    return f'/Groups?excludedAttributes=members&filter=displayName eq "{name}"'


def entra_add_member(user_id):
    return _patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": user_id}]})


def entra_remove_member(user_id):
    return _patch({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user_id}]})


ENTRA_RENAME_GROUP = _patch(
    {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"})
