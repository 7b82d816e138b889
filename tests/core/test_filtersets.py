"""core.filtersets.FilterSet: django-filter's FilterSet without its deep copies, with the same behaviour."""

import django_filters
import pytest
from django.http import QueryDict
from django.test import RequestFactory

from core.filtersets import AuditEventFilterSet, EmployeeFilterSet, FilterSet, GroupFilterSet
from devices.filtersets import DeviceFilterSet
from devices.selectors import device_queryset
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db


class DeepCopyingDeviceFilterSet(DeviceFilterSet):
    """The same filters through django-filter's own ``__init__`` and form (deep copies)."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        django_filters.FilterSet.__init__(self, data, queryset, request=request, prefix=prefix)

    def get_form_class(self):
        return django_filters.FilterSet.get_form_class(self)


def _request(org, query=""):
    request = RequestFactory().get(f"/?{query}")
    request.organization = org
    return request


QUERIES = [
    "",
    "availability_status=in_use&platform=windows",
    "platform=nope",
    "group=ops&ordering=-name",
    "group=unknown",
    "search=%20Lap&enrollment_issue=stale",
    "serial_number=%20abc1&not_seen_in_fleet=true",
    "assignee=999999&assignee_email=x@example.com",
    "ordering=assignee",
    "ordering=bogus",
]


@pytest.mark.parametrize("query", QUERIES)
def test_device_filterset_matches_django_filters_deep_copies(org, query):
    GroupFactory(organization=org, name="Ops")
    DeviceFactory.create_batch(3, organization=org)
    results = []
    for cls in (DeviceFilterSet, DeepCopyingDeviceFilterSet):
        request = _request(org, query)
        filterset = cls(request.GET or None, queryset=device_queryset(organization=org), request=request)
        valid = filterset.is_bound and filterset.is_valid()
        form = filterset.form
        results.append((
            valid,
            dict(form.errors),
            {name: str(form[name]) for name in form.fields},
            str(filterset.qs.query) if valid or not filterset.is_bound else None,
            list(filterset.qs.values_list("pk", flat=True)) if valid or not filterset.is_bound else None,
        ))
    assert results[0] == results[1]


def test_instances_share_no_state_with_the_class_or_each_other(org, other_org):
    GroupFactory(organization=org, name="Ops")
    GroupFactory(organization=other_org, name="Theirs")
    base = {name: dict(f.__dict__) for name, f in DeviceFilterSet.base_filters.items()}
    base_extra = {name: dict(f.extra) for name, f in DeviceFilterSet.base_filters.items()}
    mine = DeviceFilterSet(QueryDict("group=ops"), queryset=device_queryset(organization=org),
                           request=_request(org))
    theirs = DeviceFilterSet(QueryDict("group=theirs"), queryset=device_queryset(organization=other_org),
                             request=_request(other_org))
    assert mine.is_valid() and theirs.is_valid()
    assert not DeviceFilterSet(QueryDict("group=ops"), queryset=device_queryset(organization=other_org),
                               request=_request(other_org)).is_valid()  # each instance asks its own org
    for name, filter_ in mine.filters.items():
        assert filter_ is not DeviceFilterSet.base_filters[name] and filter_ is not theirs.filters[name]
        assert filter_.parent is mine and theirs.filters[name].parent is theirs
        assert filter_.extra is not DeviceFilterSet.base_filters[name].extra
        if filter_.method:
            assert filter_.filter.f is filter_  # the method resolves on this instance
    assert mine.form.fields["group"] is not theirs.form.fields["group"]
    assert mine.form.fields["group"].queryset.query.where != theirs.form.fields["group"].queryset.query.where
    # the class's filters are as they were: nothing set on them, no field cached or replaced
    for name, filter_ in DeviceFilterSet.base_filters.items():
        assert filter_.__dict__ == base[name], name
        assert filter_.extra == base_extra[name], name


def test_method_filters_call_the_instance(org):
    calls = []

    class Recording(DeviceFilterSet):
        def filter_search(self, queryset, name, value):
            calls.append(self)
            return super().filter_search(queryset, name, value)

    filterset = Recording(QueryDict("search=x"), queryset=device_queryset(organization=org), request=_request(org))
    filterset.qs  # noqa: B018
    assert calls == [filterset]


def test_a_second_form_of_one_filterset_gets_its_own_fields(org):
    filterset = DeviceFilterSet(QueryDict("platform=macos"), queryset=device_queryset(organization=org),
                                request=_request(org))
    form_class = filterset.get_form_class()
    first, second = form_class(filterset.data), form_class(filterset.data)
    assert first.fields["platform"] is filterset.filters["platform"].field
    assert second.fields["platform"] is not first.fields["platform"]
    assert first.is_valid() and second.is_valid() and second.cleaned_data == first.cleaned_data


@pytest.mark.parametrize(
    ("cls", "query"),
    [(EmployeeFilterSet, "status=active&ordering=-email&search=a"), (GroupFilterSet, "search=o"),
     (AuditEventFilterSet, "actor_type=user&created_after=2020-01-01T00:00:00Z")],
)
def test_core_filtersets_use_the_base(org, cls, query):
    EmployeeFactory.create_batch(2, organization=org)
    assert issubclass(cls, FilterSet)
    request = _request(org, query)
    queryset = cls._meta.model.objects.for_org(org)
    filterset = cls(request.GET, queryset=queryset, request=request)
    assert filterset.is_valid(), filterset.errors
    reference = django_filters.FilterSet.__new__(cls)
    django_filters.FilterSet.__init__(reference, request.GET, queryset=queryset, request=request)
    reference.get_form_class = lambda: django_filters.FilterSet.get_form_class(reference)
    assert reference.is_valid()
    assert str(filterset.qs.query) == str(reference.qs.query)


def _field_state(field):
    widget = field.widget
    return (
        {k: repr(v) for k, v in vars(field).items() if k != "widget"},
        {k: repr(v) for k, v in vars(widget).items()},
    )


def test_request_independent_fields_are_shared_and_stay_unchanged(org, other_org, cockpit_client):
    from core.filtersets import _shared_fields

    GroupFactory(organization=org, name="Ops")
    shared = _shared_fields(DeviceFilterSet, DeviceFilterSet._meta.model)
    assert {"platform", "availability_status", "ordering", "search", "not_seen_in_fleet"} <= set(shared)
    assert "group" not in shared and "assignee" not in shared  # their querysets are the request's organization's
    before = {name: _field_state(field) for name, field in shared.items()}
    for org_, query in [(org, "platform=macos&ordering=-name"), (other_org, "platform=nope&search=x"),
                        (org, "not_seen_in_fleet=true&group=ops"), (org, "ordering=bogus")]:
        request = _request(org_, query)
        filterset = DeviceFilterSet(request.GET, queryset=device_queryset(organization=org_), request=request)
        filterset.is_valid()
        assert filterset.filters["platform"].field is shared["platform"]
        assert filterset.form.fields["ordering"] is shared["ordering"]
        for name in filterset.form.fields:
            str(filterset.form[name])
    for query in ({"platform": "windows", "ordering": "-name"}, {"platform": "x"}, {}):
        assert cockpit_client.get(f"/o/{org.slug}/devices/", query).status_code == 200
    assert {name: _field_state(field) for name, field in shared.items()} == before


@pytest.mark.parametrize("query", QUERIES + ["platform=", "ordering=", "group=", "not_seen_in_fleet=maybe"])
def test_a_form_of_the_named_filters_only_filters_and_refuses_the_same(org, query):
    GroupFactory(organization=org, name="Ops")
    DeviceFactory.create_batch(3, organization=org)
    results = []
    for only_named in (False, True):
        request = _request(org, query)
        filterset = DeviceFilterSet(request.GET, queryset=device_queryset(organization=org), request=request)
        if only_named:
            filterset.form_fields = set(request.GET)
            assert set(filterset.form.fields) == set(request.GET) & set(filterset.filters)
        valid = filterset.is_valid()
        results.append((valid, dict(filterset.errors), str(filterset.qs.query) if valid else None))
    assert results[0] == results[1]


def test_the_api_builds_only_the_named_filters(api, org):
    from unittest import mock

    seen = []
    original = DeviceFilterSet.get_form_class

    def recording(self):
        form_class = original(self)
        seen.append(set(form_class.base_fields))
        return form_class

    with mock.patch.object(DeviceFilterSet, "get_form_class", recording):
        response = api.get("/api/v1/devices/", {"platform": "windows", "ordering": "-name", "page_size": 5})
    assert response.status_code == 200 and seen == [{"platform", "ordering"}]
    bad = api.get("/api/v1/devices/", {"platform": "nope"})
    assert bad.status_code == 400 and "platform" in bad.json()["fields"]
