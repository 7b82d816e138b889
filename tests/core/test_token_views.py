import re

import pytest

from core.models import ApiToken, AuditEvent, Membership
from tests.conftest import member


def url(org, suffix=""):
    return f"/o/{org.slug}/settings/api-tokens/{suffix}"


def test_admin_creates_a_token_whose_key_is_shown_once_and_works(cockpit_client, org, client):
    response = cockpit_client.post(url(org), {"name": "Workday", "scope": "write"})
    assert response.status_code == 200
    key = re.search(r'id="new-key" [^>]*value="(fcp_[^"]+)"|value="(fcp_[^"]+)"[^>]*id="new-key"',
                    response.content.decode())
    key = next(k for k in key.groups() if k)
    token = ApiToken.objects.for_org(org).get()
    assert (token.name, token.scope, token.key_hash) == ("Workday", "write", ApiToken.hash_key(key))
    assert AuditEvent.objects.for_org(org).filter(event="api_token.created").exists()
    # Listed afterwards by its hint only, never the key.
    listing = cockpit_client.get(url(org)).content.decode()
    assert "Workday" in listing and key not in listing and token.key_hint in listing
    assert client.get("/api/v1/devices/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_revoked_token_stops_working(cockpit_client, org, client):
    cockpit_client.post(url(org), {"name": "Old script", "scope": "read"})
    token = ApiToken.objects.for_org(org).get()
    response = cockpit_client.post(url(org, f"{token.pk}/revoke/"))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.for_org(org).filter(event="api_token.revoked").exists()


def test_invalid_scope_is_a_form_error_and_creates_nothing(cockpit_client, org):
    response = cockpit_client.post(url(org), {"name": "X", "scope": "admin"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", [Membership.Role.TECHNICIAN, Membership.Role.VIEWER])
def test_technicians_and_viewers_cannot_see_or_manage_tokens(client, org, role):
    client.force_login(member(org, role))
    assert client.get(url(org)).status_code == 403
    assert client.post(url(org), {"name": "X", "scope": "write"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_revoke_needs_post(cockpit_client, org):
    cockpit_client.post(url(org), {"name": "Old script", "scope": "read"})
    token = ApiToken.objects.for_org(org).get()
    assert cockpit_client.get(url(org, f"{token.pk}/revoke/")).status_code == 405
