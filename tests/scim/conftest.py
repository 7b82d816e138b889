import json

import pytest

from tests.conftest import token_key

SCIM = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


class ScimClient:
    """Django's test client speaking SCIM with one organization's token: ``scim.get("/Users")`` → (status, body)."""

    def __init__(self, client, key):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}

    def call(self, method, path, body=None, **extra):
        url = "/scim/v2" + path
        data = json.dumps(body) if body is not None else None
        kwargs = {"content_type": SCIM} if data is not None else {}
        response = getattr(self.client, method)(url, data, **kwargs, **self.headers, **extra) if data is not None \
            else getattr(self.client, method)(url, **self.headers, **extra)
        self.last = response
        return response.status_code, (json.loads(response.content) if response.content else None)

    def get(self, path, **extra):
        return self.call("get", path, **extra)

    def post(self, path, body, **extra):
        return self.call("post", path, body, **extra)

    def put(self, path, body, **extra):
        return self.call("put", path, body, **extra)

    def patch(self, path, body, **extra):
        return self.call("patch", path, body, **extra)

    def delete(self, path, **extra):
        return self.call("delete", path, **extra)


def assert_scim_error(status_body, status, scim_type=None) -> dict:
    """A SCIM error (RFC 7644 §3.12): the schema, the status as a string, a detail, and the scimType if any."""
    code, body = status_body
    assert code == status, body
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert body["status"] == str(status), body
    assert body.get("detail"), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


@pytest.fixture
def scim(client, org):
    """A SCIM client holding a write token of ``org``."""
    return ScimClient(client, token_key(org, "write", name="Okta SCIM"))


@pytest.fixture
def read_scim(client, org):
    return ScimClient(client, token_key(org, "read", name="Reporting"))


def user_body(email, **extra):
    return {"schemas": [USER_SCHEMA], "userName": email, **extra}


def patch_body(*operations):
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
