"""What keeps a device-list request cheap keeps its answer the same: the inventory's cached content (a fresh CSRF
token, per user, role, language and data), the API list's JSON bytes, the signed-in user's and the token's reads."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from core.auth import CockpitModelBackend
from core.models import ApiToken, Membership
from core.selectors import api_token_for_key
from tests.cockpit.pages import url
from tests.conftest import api_client_for, member, token_key
from tests.factories import DeviceFactory

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _bulk_form_token(html: str) -> str:
    return CSRF_INPUT.search(html, html.index('id="bulk-form"')).group(1)


def test_a_repeated_inventory_page_is_served_from_the_cache_with_a_working_csrf_token(org, admin_user, actor,
                                                                                     monkeypatch):
    # The content is cached for the minute: two requests either side of a minute's end would each render it.
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    DeviceFactory(organization=org, name="Cached laptop")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    first = client.get(url("device_list", org)).content.decode()
    with CaptureQueriesContext(connection) as queries:
        second = client.get(url("device_list", org)).content.decode()
    assert not any("devices_device" in query["sql"] for query in queries.captured_queries)
    assert CSRF_INPUT.sub("", first) == CSRF_INPUT.sub("", second) and "Cached laptop" in second
    # The action bar's token is this request's, not the one the cached content was rendered with.
    token = _bulk_form_token(second)
    assert token != _bulk_form_token(first) and "csrfmiddlewaretoken" not in CSRF_INPUT.sub("", second)
    response = client.post(reverse("device_bulk", args=[org.slug]), {"csrfmiddlewaretoken": token})
    assert response.status_code != 403


def test_the_cached_inventory_follows_a_write(cockpit_client, org):
    DeviceFactory(organization=org, name="First laptop")
    assert "First laptop" in cockpit_client.get(url("device_list", org)).content.decode()
    DeviceFactory(organization=org, name="Second laptop")
    html = cockpit_client.get(url("device_list", org)).content.decode()
    assert "First laptop" in html and "Second laptop" in html


def test_the_cached_inventory_is_each_users_in_their_language_and_role(cockpit_client, client, org):
    DeviceFactory(organization=org)
    owner_html = cockpit_client.get(url("device_list", org)).content.decode()
    assert 'id="bulk-form"' in owner_html and reverse("device_create", args=[org.slug]) in owner_html
    viewer = member(org, Membership.Role.VIEWER)
    viewer_client = Client()
    viewer_client.force_login(viewer)
    viewer_html = viewer_client.get(url("device_list", org)).content.decode()
    assert 'id="bulk-form"' not in viewer_html and reverse("device_create", args=[org.slug]) not in viewer_html
    assert f"cockpit.inventory.columns.{viewer.pk}" in viewer_html
    french = cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Ajouter un appareil" in french and "Add a device" not in french
    assert "Add a device" in cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.parametrize("query", [{}, {"platform": "windows"}, {"page_size": 2, "page": 2}])
def test_the_api_list_is_the_bytes_drfs_json_renderer_writes(api, org, query):
    names = ["Plain", "Café “quoted” \\ back\"slash", "line\u2028sep\u2029para", "tab\tnew\nline\x01\x1f", "😀"]
    for name in names:
        DeviceFactory(organization=org, name=name, platform="windows", notes=name)
    response = api.get("/api/v1/devices/", query)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(response.data)
    assert b"\\u2028" in response.content or query.get("page") == 2


def test_the_api_list_indented_is_drfs_own(api, org):
    DeviceFactory(organization=org)
    response = api.get("/api/v1/devices/", HTTP_ACCEPT="application/json; indent=2")
    assert response.content == JSONRenderer().render(response.data, "application/json; indent=2")
    assert b'\n  "count": 1' in response.content


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_signed_in_user_is_read_as_the_orm_reads_them(admin_user):
    backend = CockpitModelBackend()
    read = backend.get_user(admin_user.pk)
    assert _fields(read) == _fields(get_user_model().objects.get(pk=admin_user.pk))
    assert read._state.adding is False and read._state.db == "default"
    assert backend.get_user(admin_user.pk + 1000) is None
    get_user_model().objects.filter(pk=admin_user.pk).update(is_active=False)
    assert backend.get_user(admin_user.pk) is None


def test_a_token_is_read_with_its_organization_as_the_orm_reads_it(org):
    key = token_key(org)
    token = api_token_for_key(key)
    expected = ApiToken.objects.select_related("organization").get(key_hash=ApiToken.hash_key(key))
    assert _fields(token) == _fields(expected) and _fields(token.organization) == _fields(expected.organization)
    assert api_token_for_key(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert api_token_for_key("no-prefix") is None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert api_token_for_key(key) is None
    assert api_client_for(key).get("/api/v1/devices/").status_code == 401
