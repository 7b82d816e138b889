"""The suite every API resource shares (STYLE habit 13), the way NetBox's ``utilities/testing`` gives each endpoint
its ``APIViewTestCases``: a resource joins with a few lines and gets its CRUD, permission and isolation tests.

    class TestGroupAPI(APIViewTestCase):
        url_name = "api:group"                                   # the router's basename, namespaced
        factory = GroupFactory
        create_data = {"name": "Sales", "description": "Sales team"}
        update_data = {"description": "Everyone who sells"}

Tests it gives (only those of the actions the viewset offers: read from its route and ``http_method_names``):

* anonymous requests are refused with 401 in the one error shape, on every offered method;
* a read token reads, and cannot write (403, nothing changed);
* another organization's object is 404 on every detail method, and absent from the list;
* list, retrieve, create, update (PUT), partial update (PATCH) and delete work, each write leaving an audit entry
  (``<model>.created`` / ``.updated`` / ``.deleted`` about the object, by the token);
* a method the viewset does not offer is 405 in the error shape;
* the list's query count does not grow with the number of objects (and stays within ``list_max_queries``).

Hooks for a resource whose objects need more than ``factory(organization=…)``: ``make_object``, ``make_objects``,
``create_payload``, ``update_payload``, ``put_payload``, ``audit_event``, ``assert_applied``, ``check_list_rows``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from core.models import AuditEvent
from tests.conftest import assert_error

# The router's action for each method (DRF's ``SimpleRouter`` routes), and what a test calls it by.
LIST_ACTIONS = {"get": "list", "post": "create"}
DETAIL_ACTIONS = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
WRITE_ACTIONS = ("create", "update", "partial_update", "destroy")
AUDIT_VERBS = {"create": "created", "update": "updated", "partial_update": "updated", "destroy": "deleted"}


def _needs(action: str):
    """This test only exists for a resource whose viewset offers ``action``."""

    def mark(test):
        test.needs_action = action
        return test

    return mark


class APIViewTestCase:
    url_name: ClassVar[str]  # "api:group": ``<url_name>-list`` and ``<url_name>-detail`` are its routes
    factory: ClassVar[Any]  # a DjangoModelFactory taking ``organization``
    create_data: ClassVar[dict] = {}
    update_data: ClassVar[dict] = {}
    put_data: ClassVar[dict | None] = None  # a full body for PUT; default: ``create_data | update_data``
    list_max_queries: ClassVar[int | None] = None  # the list's query budget, the token's look-up included
    offered: ClassVar[frozenset[str]] = frozenset()  # filled from the route: list, retrieve, create…

    pytestmark = [pytest.mark.django_db]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "url_name", None) is None:
            return
        cls.offered = frozenset(cls._offered_actions())
        for name in dir(cls):
            needed = getattr(getattr(cls, name), "needs_action", None)
            if name.startswith("test_") and needed is not None and needed not in cls.offered:
                setattr(cls, name, None)  # not collected: the viewset does not offer it

    @classmethod
    def _routes(cls) -> list[tuple[str, str, str]]:
        """``(method, action, url)`` of each route the router made, offered or not."""
        routes = []
        for suffix, args, actions in (("list", [], LIST_ACTIONS), ("detail", [1], DETAIL_ACTIONS)):
            url = reverse(f"{cls.url_name}-{suffix}", args=args)
            routed = resolve(url).func.actions
            routes += [(method, action, url) for method, action in actions.items() if method in routed]
        return routes

    @classmethod
    def _offered_actions(cls) -> set[str]:
        viewset = resolve(reverse(f"{cls.url_name}-list")).func.cls
        return {action for method, action, _url in cls._routes() if method in viewset.http_method_names}

    # --- hooks -------------------------------------------------------------------------------

    @property
    def model(self):
        return self.factory._meta.model

    def make_object(self, organization):
        return self.factory(organization=organization)

    def make_objects(self, organization, n: int) -> list:
        return [self.make_object(organization) for _ in range(n)]

    def create_payload(self, organization) -> dict:
        return dict(self.create_data)

    def update_payload(self, obj) -> dict:
        return dict(self.update_data)

    def put_payload(self, obj) -> dict:
        if self.put_data is not None:
            return dict(self.put_data)
        return self.create_payload(obj.organization) | self.update_payload(obj)

    def audit_event(self, action: str) -> str:
        return f"{self.model._meta.model_name}.{AUDIT_VERBS[action]}"

    def check_list_rows(self, rows: list[dict]) -> None:
        """What the query-count test's rows must show, so that the related data it counts was really read."""

    def assert_applied(self, body: dict, payload: dict) -> None:
        """The answer shows what was written (fields it shows, as sent)."""
        for field, value in payload.items():
            if field in body:
                assert body[field] == value, (field, body[field], value)

    # --- helpers -----------------------------------------------------------------------------

    def list_url(self) -> str:
        return reverse(f"{self.url_name}-list")

    def detail_url(self, obj) -> str:
        return reverse(f"{self.url_name}-detail", args=[obj.pk])

    def row(self, obj) -> dict | None:
        return self.model.objects.filter(pk=obj.pk).values().first()

    def requests(self, obj, actions=None) -> list[tuple[str, str, str, dict | None]]:
        """``(action, method, url, body)`` for each offered action (or those of ``actions``) on ``obj``."""
        calls = {
            "list": ("get", self.list_url(), None),
            "create": ("post", self.list_url(), self.create_data),
            "retrieve": ("get", self.detail_url(obj), None),
            "update": ("put", self.detail_url(obj), self.put_data or self.create_data | self.update_data),
            "partial_update": ("patch", self.detail_url(obj), self.update_data),
            "destroy": ("delete", self.detail_url(obj), None),
        }
        wanted = self.offered if actions is None else self.offered & set(actions)
        return [(action, *calls[action]) for action in calls if action in wanted]

    @staticmethod
    def call(client, method: str, url: str, body: dict | None):
        return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)

    def assert_audited(self, organization, action: str, pk) -> AuditEvent:
        event = self.audit_event(action)
        entries = AuditEvent.objects.filter(organization=organization, event=event, target_id=str(pk))
        assert entries.exists(), (event, list(AuditEvent.objects.values_list("event", "target_id")))
        entry = entries.latest("id")
        assert (entry.actor_type, entry.target_type) == ("token", self.model._meta.label_lower)
        return entry

    # --- permissions and isolation -----------------------------------------------------------

    def test_anonymous_is_refused(self, org):
        obj = self.make_object(org)
        before, count = self.row(obj), self.model.objects.count()
        for _action, method, url, body in self.requests(obj):
            response = self.call(APIClient(), method, url, body)
            assert_error(response, 401, code="not_authenticated")
            assert response["WWW-Authenticate"].startswith("Bearer")
        assert (self.row(obj), self.model.objects.count()) == (before, count)

    def test_read_token_reads(self, read_api, org):
        obj = self.make_object(org)
        for action, method, url, body in self.requests(obj, ("list", "retrieve")):
            assert self.call(read_api, method, url, body).status_code == 200, action

    def test_read_token_cannot_write(self, read_api, org):
        obj = self.make_object(org)
        before, count = self.row(obj), self.model.objects.count()
        audit = AuditEvent.objects.count()
        for _action, method, url, body in self.requests(obj, WRITE_ACTIONS):
            body_ = assert_error(self.call(read_api, method, url, body), 403, code="permission_denied")
            assert "read-only" in body_["detail"]
        assert (self.row(obj), self.model.objects.count(), AuditEvent.objects.count()) == (before, count, audit)

    def test_other_organizations_object_is_404(self, api, other_org):
        foreign = self.make_object(other_org)
        before = self.row(foreign)
        for _action, method, url, body in self.requests(foreign, ("retrieve", "update", "partial_update", "destroy")):
            assert_error(self.call(api, method, url, body), 404, code="not_found")
        assert self.row(foreign) == before
        if "list" in self.offered:
            assert foreign.pk not in {row["id"] for row in api.get(self.list_url()).json()["results"]}

    def test_methods_not_offered_are_405(self, api, org):
        obj = self.make_object(org)
        before, count = self.row(obj), self.model.objects.count()
        for method, action, url in self._routes():
            if action not in self.offered:
                url = url if action in LIST_ACTIONS.values() else self.detail_url(obj)
                assert_error(self.call(api, method, url, {}), 405, code="method_not_allowed")
        assert (self.row(obj), self.model.objects.count()) == (before, count)

    # --- CRUD --------------------------------------------------------------------------------

    @_needs("list")
    def test_list(self, api, org, other_org):
        own = self.make_objects(org, 3)
        self.make_object(other_org)
        response = api.get(self.list_url())
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert body["count"] == 3
        assert {row["id"] for row in body["results"]} == {obj.pk for obj in own}

    @_needs("retrieve")
    def test_retrieve(self, api, org):
        obj = self.make_object(org)
        response = api.get(self.detail_url(obj))
        assert response.status_code == 200, response.content
        assert response.json()["id"] == obj.pk

    @_needs("create")
    def test_create(self, api, org):
        payload = self.create_payload(org)
        response = api.post(self.list_url(), payload, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        created = self.model.objects.get(pk=body["id"])
        assert created.organization_id == org.pk
        self.assert_applied(body, payload)
        self.assert_audited(org, "create", created.pk)

    @_needs("update")
    def test_update(self, api, org):
        obj = self.make_object(org)
        payload = self.put_payload(obj)
        response = api.put(self.detail_url(obj), payload, format="json")
        assert response.status_code == 200, response.content
        self.assert_applied(response.json(), payload)
        self.assert_audited(org, "update", obj.pk)

    @_needs("partial_update")
    def test_partial_update(self, api, org):
        obj = self.make_object(org)
        payload = self.update_payload(obj)
        response = api.patch(self.detail_url(obj), payload, format="json")
        assert response.status_code == 200, response.content
        self.assert_applied(response.json(), payload)
        self.assert_audited(org, "partial_update", obj.pk)

    @_needs("destroy")
    def test_destroy(self, api, org):
        obj = self.make_object(org)
        response = api.delete(self.detail_url(obj))
        assert response.status_code == 204, response.content
        assert self.row(obj) is None
        assert_error(api.get(self.detail_url(obj)), 404)
        self.assert_audited(org, "destroy", obj.pk)

    @_needs("list")
    def test_list_query_count_does_not_grow(self, api, org):
        url = self.list_url()
        api.get(url)  # the token's first use writes last_used_at: measure afterwards
        self.make_objects(org, 2)
        with CaptureQueriesContext(connection) as few:
            response = api.get(url, {"page_size": 100})
        assert response.json()["count"] == 2
        self.make_objects(org, 10)
        with CaptureQueriesContext(connection) as many:
            response = api.get(url, {"page_size": 100})
        assert response.json()["count"] == 12
        self.check_list_rows(response.json()["results"])
        queries = [query["sql"] for query in many.captured_queries]
        assert len(few.captured_queries) == len(queries), queries
        if self.list_max_queries is not None:
            assert len(queries) <= self.list_max_queries, queries
