"""Tenant isolation, proven for every URL the project routes.

The test walks the whole URL configuration. Each URL is either public (an explicit list below),
Django admin (superusers only), or tenant-scoped; tenant URLs are requested by a member and a token
of organization B against organization A's objects and must answer 404 (405 for a method the URL
does not take). Lists reached with B's own slug or token must not show A's data. A URL whose
object kwarg this test cannot fill fails the test: cover it here when you add it.
"""

from importlib import import_module
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from core.actors import Actor
from core.models import Membership
from devices import services as device_services
from devices.views import MOVES
from mdm_sync.models import SyncRun
from tests.conftest import api_client_for, member, token_key
from tests.core.factories import JobFactory
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory, OrganizationFactory


def _feature_extensions():
    """``tests/<app>/tenant_objects*.py`` of the feature apps, each optionally defining:

    * ``PUBLIC``: URL names reachable without a cockpit login (the app proves their isolation itself);
    * ``objects(base) -> dict``: organization A's objects keyed as :func:`object_key` names them, given
      ``base`` = {"org", "employee", "device", "group"} of organization A;
    * ``KWARGS``: {kwarg name: function(objects_a) -> value} for URL kwargs other than ``org_slug``/``pk``.
    """
    tests_dir = Path(__file__).resolve().parent.parent
    return [
        import_module(f"tests.{path.parent.name}.{path.stem}")
        for app in ("enrollment", "assignment", "offboarding", "webhooks", "scim", "mfa", "sso")
        for path in sorted((tests_dir / app).glob("tenant_objects*.py"))
    ]


EXTENSIONS = _feature_extensions()
EXTRA_KWARGS = {name: fn for module in EXTENSIONS for name, fn in getattr(module, "KWARGS", {}).items()}
PUBLIC = {"home", "login", "logout", "healthz", "schema", "api-docs", "set_language", "favicon"}
PUBLIC |= {"account_preferences"}  # the signed-in user's own settings, no organization's data (tests/cockpit)
PUBLIC |= {name for module in EXTENSIONS for name in getattr(module, "PUBLIC", ())}
SECRETS = ("C02SECRETA", "secret-a@acme.test", "Secret Group A", "Acme Secret Corp")
METHODS = ("get", "post", "put", "patch", "delete")


def walk(patterns, namespace=None, inherited=()):
    for pattern in patterns:
        groups = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            full = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from walk(pattern.url_patterns, full, inherited + groups)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield namespace, name, set(inherited + groups)


def tenant_urls():
    urls = {}
    for namespace, name, kwargs in walk(get_resolver().url_patterns):
        if namespace == "admin":
            continue  # Django admin: superusers (platform operators) only, behind its own login
        if name is None:
            raise AssertionError(f"An unnamed URL pattern (kwargs {kwargs}) cannot be checked: name it.")
        if name in PUBLIC or "format" in kwargs:
            continue  # public, or DRF's format-suffix twin of a named route
        urls[name] = kwargs
    return urls


def object_key(name: str) -> str:
    """Which of A's objects a URL's ``pk`` names: ``api:device-assign`` → device, ``employee_detail`` → employee."""
    base = name.split(":")[-1]
    return base.split("-")[0] if name.startswith("api:") else base.split("_")[0]


@pytest.fixture
def world(db):
    system = Actor.system("tests")
    org_a = OrganizationFactory(slug="acme", name="Acme Secret Corp")
    org_b = OrganizationFactory(slug="globex", name="Globex")
    group_a = GroupFactory(organization=org_a, name="Secret Group A")
    employee_a = EmployeeFactory(organization=org_a, email="secret-a@acme.test", external_id="HR-A-1")
    device_a = DeviceFactory(organization=org_a, serial_number="C02SECRETA", name="secret-mbp")
    device_a.groups.add(group_a)
    device_a = device_services.device_assign(device=device_a, employee=employee_a, actor=system)
    from core.models import ApiToken, AuditEvent

    token_key(org_a, "write", name="A's integration")

    objects_a = {
        "device": device_a,
        "employee": employee_a,
        "group": group_a,
        "auditevent": AuditEvent.objects.for_org(org_a).first(),
        "token": ApiToken.objects.for_org(org_a).get(name="A's integration"),
        "syncrun": SyncRun.objects.create(organization=org_a, trigger="manual", started_at=timezone.now(),
                                          error="Acme Secret Corp fleet is down"),
        "job": JobFactory(organization=org_a, status="failed", error="Acme Secret Corp import failed",
                          result={"detail": "secret-a@acme.test"}),
    }
    base = {"org": org_a, "employee": employee_a, "device": device_a, "group": group_a}
    for module in EXTENSIONS:
        if hasattr(module, "objects"):
            objects_a.update(module.objects(base))
    # Organization B has data of its own, so its lists are not trivially empty.
    EmployeeFactory(organization=org_b, email="bob@globex.test")
    DeviceFactory(organization=org_b, serial_number="GLOBEX0001")
    return {
        "org_a": org_a,
        "org_b": org_b,
        "objects_a": objects_a,
        "user_b": member(org_b, Membership.Role.OWNER),
        "viewer_a": member(org_a, Membership.Role.VIEWER),
        "token_b": token_key(org_b, "write"),
        "read_token_a": token_key(org_a, "read"),
    }


def kwargs_for(name, needed, world, org_slug):
    values = {}
    for kwarg in needed:
        if kwarg == "org_slug":
            values[kwarg] = org_slug
        elif kwarg == "pk":
            key = object_key(name)
            if key not in world["objects_a"]:
                raise AssertionError(f"{name}: no object of organization A for pk ({key!r}); cover it in this test.")
            values[kwarg] = world["objects_a"][key].pk
        elif kwarg == "move":
            values[kwarg] = "archive"
        elif kwarg == "external_id":
            values[kwarg] = world["objects_a"]["employee"].external_id
        elif kwarg in EXTRA_KWARGS:
            values[kwarg] = EXTRA_KWARGS[kwarg](world["objects_a"])
        else:
            raise AssertionError(f"{name}: kwarg {kwarg!r} is not covered by the tenant isolation test.")
    return values


def assert_denied(responses, name, allowed=(404,)):
    statuses = {method: r.status_code for method, r in responses.items()}
    assert all(code in (*allowed, 405) for code in statuses.values()), f"{name}: {statuses}"
    assert any(code in allowed for code in statuses.values()), f"{name}: no method answered {allowed}: {statuses}"


def assert_no_secrets(response, name):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for secret in SECRETS:
        assert secret.encode() not in body, f"{name} shows organization A's {secret!r} to organization B"


def test_every_url_is_public_admin_or_tenant_scoped():
    urls = tenant_urls()
    cockpit = [n for n in urls if not n.startswith("api:")]
    api = [n for n in urls if n.startswith("api:")]
    assert cockpit and api
    for name in cockpit:
        assert "org_slug" in urls[name], f"cockpit URL {name} is not under /o/<org_slug>/ and not public"


def test_member_of_b_gets_404_on_every_cockpit_url_of_a(client, world):
    client.force_login(world["user_b"])
    for name, needed in tenant_urls().items():
        if name.startswith("api:"):
            continue
        # A's slug: B's member is not a member of A.
        url = reverse(name, kwargs=kwargs_for(name, needed, world, world["org_a"].slug))
        assert_denied({m: getattr(client, m)(url) for m in ("get", "post")}, f"{name} (A's slug)")
        if needed - {"org_slug"}:
            # B's own slug with A's object ids: the object is looked up within B and not found.
            url = reverse(name, kwargs=kwargs_for(name, needed, world, world["org_b"].slug))
            assert_denied({m: getattr(client, m)(url) for m in ("get", "post")}, f"{name} (B's slug, A's object)")


def test_cockpit_lists_of_b_show_nothing_of_a(client, world):
    client.force_login(world["user_b"])
    for name, needed in tenant_urls().items():
        if name.startswith("api:") or needed != {"org_slug"}:
            continue
        response = client.get(reverse(name, kwargs={"org_slug": world["org_b"].slug}))
        assert response.status_code in (200, 403, 405), f"{name}: {response.status_code}"  # 405: POST-only
        assert_no_secrets(response, name)


@pytest.mark.parametrize(("name", "key"), [("employee_lookup", "employee"), ("device_lookup", "device")])
def test_pickers_of_b_find_nothing_of_a(client, world, name, key):
    """The filters' lookups search B's own objects only, whatever is typed: A's names, serials or ids."""
    client.force_login(world["user_b"])
    a_object = world["objects_a"][key]
    url = reverse(name, kwargs={"org_slug": world["org_b"].slug})
    for query in ("", "secret", "acme", "C02SECRETA", "secret-a@acme.test", str(a_object.pk)):
        response = client.get(url, {"q": query})
        assert response.status_code == 200, f"{name} {query!r}: {response.status_code}"
        assert_no_secrets(response, f"{name} {query!r}")
        assert a_object.pk not in [row["id"] for row in response.json()["results"]], f"{name} {query!r}"


def test_global_search_of_b_finds_nothing_of_a(client, world):
    """The top bar's search looks in B only: A's serial number is no jump to A's device, A's names no result."""
    client.force_login(world["user_b"])
    url = reverse("search", kwargs={"org_slug": world["org_b"].slug})
    for query in ("secret", "acme", "C02SECRETA", "c02secreta", "secret-a@acme.test", "HR-A-1", "Secret Group A"):
        response = client.get(url, {"q": query})
        assert response.status_code == 200, f"search {query!r}: {response.status_code}"
        assert response.context["results"].empty, f"search {query!r}"
        shown = response.content.decode().replace(query, "")  # the page repeats what was typed, nothing more
        assert not [secret for secret in SECRETS if secret in shown], f"search {query!r}"


def test_token_of_b_gets_404_on_every_api_url_of_a(world):
    api = api_client_for(world["token_b"])
    for name, needed in tenant_urls().items():
        if not name.startswith("api:") or not needed:
            continue
        url = reverse(name, kwargs=kwargs_for(name, needed, world, None))
        if name == "api:employee-upsert-external":
            # Upsert by external id acts within B: it creates B's own employee and leaves A's untouched.
            response = api.put(url, {"email": "new@globex.test"}, format="json")
            assert response.status_code == 201, response.content
            assert response.json()["email"] == "new@globex.test"
            a_employee = world["objects_a"]["employee"]
            a_employee.refresh_from_db()
            assert a_employee.email == "secret-a@acme.test" and a_employee.organization == world["org_a"]
            continue
        responses = {m: getattr(api, m)(url, {}, format="json") for m in METHODS}
        assert_denied(responses, name)
        for response in responses.values():
            if response.status_code == 404:
                assert response.json()["code"] == "not_found"


def test_api_lists_of_b_show_nothing_of_a(world):
    api = api_client_for(world["token_b"])
    for name, needed in tenant_urls().items():
        if name.startswith("api:") and not needed:
            response = api.get(reverse(name))
            assert response.status_code == 200, f"{name}: {response.status_code}"
            assert_no_secrets(response, name)


def test_viewer_of_a_is_refused_every_cockpit_write(client, world):
    """A viewer reads its organization but every POST is 403 (405 where the URL takes no POST)."""
    client.force_login(world["viewer_a"])
    for name, needed in tenant_urls().items():
        if name.startswith("api:"):
            continue
        kwargs = kwargs_for(name, needed, world, world["org_a"].slug)
        if name == "device_move":
            for move in MOVES:
                response = client.post(reverse(name, kwargs=kwargs | {"move": move}))
                assert response.status_code == 403, f"{name} {move}: {response.status_code}"
            continue
        url = reverse(name, kwargs=kwargs)
        assert client.get(url).status_code in (200, 403), name
        assert client.post(url).status_code in (403, 405), f"{name}: viewer POST {client.post(url).status_code}"


def test_read_token_of_a_cannot_write_anywhere(world):
    api = api_client_for(world["read_token_a"])
    for name, needed in tenant_urls().items():
        if not name.startswith("api:"):
            continue
        url = reverse(name, kwargs=kwargs_for(name, needed, world, None)) if needed else reverse(name)
        for method in ("post", "put", "patch", "delete"):
            response = getattr(api, method)(url, {}, format="json")
            assert response.status_code in (403, 405), f"{name} {method}: {response.status_code}"
