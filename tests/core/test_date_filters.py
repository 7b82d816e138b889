"""Date/time filters refuse what no database can compare: an offset past ±14:00, a value out of range in UTC.

PostgreSQL refuses a displacement past ±15:59 and SQLite's adapter overflows next to year 1 or 9999; both were 500s.
Run on both databases (``DATABASE_URL``)."""

import importlib
import importlib.util
from datetime import UTC, datetime
from urllib.parse import quote

import django_filters
import pytest
from django import forms
from django.apps import apps

from core.filtersets import BoundedDateTimeField, BoundedIsoDateTimeField
from core.models import AuditEvent
from tests.cockpit.pages import url
from tests.conftest import assert_error
from tests.factories import OffboardingFactory

PROJECT_APPS = {"core", "devices", "enrollment", "assignment", "offboarding", "mdm_sync", "webhooks", "scim", "cockpit"}
BOUNDED = (BoundedDateTimeField, BoundedIsoDateTimeField)

HOSTILE = [
    "2024-01-01T00:00:00+16:00",  # the reported one: PostgreSQL's "time zone displacement out of range"
    "2024-01-01T00:00:00-15:00",
    "2024-01-01T00:00:00+23:59",
    "2024-01-01T00:00:00+14:01",
    "2024-01-01T00:00:00+05:30:15",  # seconds in the offset
    "2024-01-01T00:00:00+05:30:15.5",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
]


@pytest.fixture
def events(org):
    """Three audit events an hour apart from 2024-01-01T10:00Z (the token's own event is moved away)."""
    AuditEvent.objects.filter(organization=org).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    rows = []
    for hour in (10, 11, 12):
        event = AuditEvent.objects.create(organization=org, event="device.assigned", actor_type="system",
                                          actor_label="tests", target_type="device", target_id="1", target_label="x")
        AuditEvent.objects.filter(pk=event.pk).update(created_at=datetime(2024, 1, 1, hour, tzinfo=UTC))
        rows.append(event.pk)
    return rows


@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize("value", HOSTILE)
def test_an_impossible_date_time_is_a_400_naming_the_filter(api, org, name, value):
    response = api.get(f"/api/v1/audit-events/?{name}={quote(value)}")
    assert_error(response, 400, code="invalid", field=name)


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-01-01T11:00:00Z", 2),
    ("2024-01-01T11:00:00", 2),  # naive: the server's zone, UTC
    ("2024-01-02T01:00:00+14:00", 2),  # the farthest real offset east: 11:00 UTC
    ("2023-12-31T23:00:00-12:00", 2),  # and west
    ("2024-01-01T16:30:00+05:30", 2),
    ("0001-01-01T00:00:00-01:00", 3),  # the range's edges that stay in range in UTC
    ("9999-12-31T23:59:59+01:00", 0),
])
def test_offsets_within_14_hours_filter_in_utc(api, events, value, expected):
    response = api.get(f"/api/v1/audit-events/?created_after={quote(value)}&event=device.assigned")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == expected


def test_created_before_is_exclusive_in_utc(api, events):
    before = quote("2024-01-01T20:00:00+09:00")  # 11:00 UTC
    response = api.get(f"/api/v1/audit-events/?created_before={before}&event=device.assigned")
    assert [row["id"] for row in response.json()["results"]] == [events[0]]


def test_the_cockpit_audit_filter_shows_a_form_error_not_a_500(cockpit_client, org, events):
    response = cockpit_client.get(url("audit_list", org, created_after="2024-01-01T00:00:00+16:00"))
    assert response.status_code == 200
    assert "created_after" in response.context["filter"].errors
    assert "-14:00 to +14:00" in response.content.decode()
    assert list(response.context["page"].object_list) == []


@pytest.mark.parametrize(("value", "status"), [("0001-01-01", 200), ("9999-12-31", 200), ("10000-01-01", 400),
                                               ("2024-02-30", 400), ("2024-01-01T00:00:00+16:00", 400)])
def test_date_filters_take_the_whole_date_range(api, org, value, status):
    OffboardingFactory(organization=org)
    for name in ("effective_after", "effective_before"):
        response = api.get(f"/api/v1/offboardings/?{name}={quote(value)}")
        if status == 400:
            assert_error(response, 400, code="invalid", field=name)
        else:
            assert response.status_code == 200, response.content


def _project_filtersets():
    for config in apps.get_app_configs():
        if config.name.split(".")[0] in PROJECT_APPS and importlib.util.find_spec(f"{config.name}.filtersets"):
            importlib.import_module(f"{config.name}.filtersets")
    seen, todo = [], list(django_filters.FilterSet.__subclasses__())
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in seen if cls.__module__.split(".")[0] in PROJECT_APPS]


def test_every_date_time_filter_of_every_filterset_is_bounded():
    filtersets = _project_filtersets()
    assert {"AuditEventFilterSet", "DeviceFilterSet", "OffboardingFilterSet"} <= {cls.__name__ for cls in filtersets}
    unbounded = [
        f"{filterset.__name__}.{name}"
        for filterset in filtersets
        for name, flt in filterset.base_filters.items()
        if (issubclass(flt.field_class, forms.DateTimeField) and not issubclass(flt.field_class, BOUNDED))
        or (isinstance(flt, django_filters.RangeFilter) and "DateTime" in flt.field_class.__name__)
    ]
    assert unbounded == [], "declare date/time filters with core.filtersets.IsoDateTimeFilter or DateTimeFilter"
