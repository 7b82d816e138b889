"""The device list's fast paths: a lean serializer, group names per page, cached counts that never go stale."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cockpit.paging import org_data_changed
from cockpit.services import employee_update
from devices import services
from devices.api import DeviceSerializer
from devices.models import Device
from devices.selectors import device_queryset, with_group_names
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory


def count(api, **params):
    response = api.get("/api/v1/devices/", params)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def test_fast_representation_equals_drf_generic_output(org, employee, actor):
    groups = [GroupFactory(organization=org, name=n) for n in ("Zeta", "Alpha")]
    plain = DeviceFactory(organization=org, serial_number="", name="no-serial", notes="", fleet_uuid="")
    assigned = services.device_assign(device=DeviceFactory(organization=org), employee=employee, actor=actor)
    archived = services.device_archive(device=DeviceFactory(organization=org), actor=actor, wipe=True)
    rich = DeviceFactory(organization=org, enrollment_issues=["offline", "agent_missing"], fleet_host_id=4242,
                         fleet_uuid="UUID-1", last_seen_at=timezone.now(), notes="=cmd")
    rich.groups.set(groups)
    for device in (plain, assigned, archived, rich):
        fresh = device_queryset(organization=org).get(pk=device.pk)
        serializer = DeviceSerializer()
        assert serializer.to_representation(fresh) == serializer.generic_representation(fresh)
        with_names = with_group_names([fresh])[0]
        assert serializer.to_representation(with_names) == serializer.generic_representation(fresh)
    assert with_group_names([device_queryset(organization=org).get(pk=rich.pk)])[0].group_names == ["Alpha", "Zeta"]


def test_count_follows_every_kind_of_write(api, org, employee, actor):
    device = DeviceFactory(organization=org)
    assert count(api) == 1
    DeviceFactory(organization=org)  # a plain ORM save
    assert count(api) == 2
    assert count(api, availability_status="in_use") == 0
    services.device_assign(device=device, employee=employee, actor=actor)  # a service
    assert count(api, availability_status="in_use") == 1
    group = GroupFactory(organization=org, name="Design")
    assert count(api, group="Design") == 0
    device.groups.add(group)  # a membership change
    assert count(api, group="Design") == 1
    group.devices.remove(device)  # from the other side
    assert count(api, group="Design") == 0
    assert count(api, search="ada@acme.test") == 1
    employee_update(employee=employee, actor=actor, email="ada.l@acme.test")  # search matches assignee e-mail
    assert count(api, search="ada@acme.test") == 0
    Device.objects.filter(pk=device.pk).update(name="renamed-in-bulk")  # bypasses signals…
    org_data_changed(org.pk)  # …so bulk writers say so
    assert count(api, search="renamed-in-bulk") == 1


def test_counts_are_cached_per_organization_and_filter(api, org, other_org):
    DeviceFactory.create_batch(3, organization=org)
    DeviceFactory.create_batch(2, organization=other_org)
    assert count(api) == 3
    with CaptureQueriesContext(connection) as queries:
        assert count(api) == 3
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert count(api, platform="windows") == 0


def test_cockpit_inventory_does_not_list_every_employee(cockpit_client, org):
    EmployeeFactory.create_batch(30, organization=org)
    DeviceFactory(organization=org)
    body = cockpit_client.get(f"/o/{org.slug}/devices/").content.decode()
    assert 'name="assignee"' in body
    assert body.count("<option") < 40  # statuses, platforms, issues, groups — not 30 employees


def test_csv_export_queries_do_not_grow_with_devices(cockpit_client, org):
    group = GroupFactory(organization=org)

    def export_queries(n):
        for device in DeviceFactory.create_batch(n, organization=org):
            device.groups.add(group)
        with CaptureQueriesContext(connection) as queries:
            response = cockpit_client.get(f"/o/{org.slug}/devices/export.csv")
            rows = b"".join(response.streaming_content).decode().strip().splitlines()
        return len(queries.captured_queries), len(rows)

    small, rows_small = export_queries(5)
    large, rows_large = export_queries(50)
    assert (rows_small, rows_large) == (6, 56)
    assert small == large
