"""Bulk actions on the inventory (``devices.bulk``, ``POST /api/v1/devices/bulk/``): each device through its single
move's service, its own result, its own transaction; ids or the list's filters; a job above the threshold."""

import pytest
from django.core import mail

from core import jobs
from core.jobs import Job
from core.models import AuditEvent
from core.tasks import job_run
from devices import bulk, services
from devices.models import Device, DeviceCommand, Platform
from tests.conftest import api_client_for, assert_error, sync_now, token_key
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/devices/bulk/"


@pytest.fixture
def jobs_run_now(monkeypatch):
    """The job task queued after commit runs in-process (the real Celery task, applied) instead of on the broker."""
    monkeypatch.setattr(jobs, "queue_job", lambda job_id: job_run.apply(args=[job_id]).get())


def post(api, **body):
    return api.post(URL, body, format="json")


def by_id(body) -> dict:
    return {result["device_id"]: result for result in body["results"]}


# --- the service ---------------------------------------------------------------------------------------------


def test_return_to_stock_each_device_through_its_service(org, actor, employee):
    assigned = services.device_assign(device=DeviceFactory(organization=org, serial_number="C02A"), employee=employee,
                                      actor=actor)
    stocked = DeviceFactory(organization=org, serial_number="C02B")
    archived = services.device_archive(device=DeviceFactory(organization=org), actor=actor)
    action = bulk.bulk_action("return_to_stock")
    body = bulk.devices_bulk_run(
        organization=org, actor=actor, action=action, device_ids=[assigned.pk, stocked.pk, archived.pk, 999999],
        arguments=bulk.bulk_arguments(organization=org, action=action, wipe=True), source="manual")
    assert (body["action"], body["total"], body["succeeded"], body["failed"]) == ("return_to_stock", 4, 1, 3)
    results = by_id(body)
    assert results[assigned.pk] == {"device_id": assigned.pk, "serial": "C02A", "ok": True, "code": "done",
                                    "detail": "Returned to stock. Wipe requested."}
    assert results[stocked.pk]["code"] == "illegal_transition" and "already in stock" in results[stocked.pk]["detail"]
    assert results[archived.pk]["code"] == "illegal_transition"
    assert results[999999] == {"device_id": 999999, "serial": None, "ok": False, "code": "not_found",
                               "detail": "No device #999999 in this organization."}
    assigned.refresh_from_db()
    assert assigned.availability_status == "in_stock" and assigned.assignee is None
    # The single move's history, audit entry and wipe request, nothing less.
    assert assigned.history.filter(action="returned_to_stock", wipe_requested=True).count() == 1
    event = AuditEvent.objects.for_org(org).for_target(assigned).get(event="device.returned_to_stock")
    assert event.after["wipe_requested"] is True
    assert assigned.commands.filter(kind="wipe").count() == 1


def test_another_organizations_devices_are_not_found_and_untouched(org, other_org, actor):
    foreign = DeviceFactory(organization=other_org, availability_status="in_use")
    action = bulk.bulk_action("archive")
    body = bulk.devices_bulk_run(organization=org, actor=actor, action=action, device_ids=[foreign.pk],
                                 arguments=bulk.bulk_arguments(organization=org, action=action), source="manual")
    assert by_id(body)[foreign.pk]["code"] == "not_found"
    foreign.refresh_from_db()
    assert foreign.availability_status == "in_use"


def test_group_membership_added_and_removed_once(org, actor):
    sales = GroupFactory(organization=org, name="Sales")
    other = GroupFactory(organization=org, name="Other")
    inside, outside = DeviceFactory(organization=org), DeviceFactory(organization=org)
    inside.groups.add(sales, other)
    add = bulk.bulk_action("add_to_group")
    body = bulk.devices_bulk_run(organization=org, actor=actor, action=add, device_ids=[inside.pk, outside.pk],
                                 arguments=bulk.bulk_arguments(organization=org, action=add, group=sales.pk),
                                 source="manual")
    assert [(r["ok"], r["code"]) for r in body["results"]] == [(True, "unchanged"), (True, "done")]
    assert set(outside.groups.values_list("name", flat=True)) == {"Sales"}
    event = AuditEvent.objects.for_org(org).for_target(outside).get(event="device.updated")
    assert (event.before, event.after) == ({"groups": []}, {"groups": ["Sales"]})
    remove = bulk.bulk_action("remove_from_group")
    body = bulk.devices_bulk_run(organization=org, actor=actor, action=remove, device_ids=[inside.pk, outside.pk],
                                 arguments=bulk.bulk_arguments(organization=org, action=remove, group="sales"),
                                 source="manual")
    assert body["succeeded"] == 2
    assert set(inside.groups.values_list("name", flat=True)) == {"Other"}
    assert not outside.groups.exists()


def test_fix_instructions_sent_to_owners_with_issues_only(org, actor, employee, django_capture_on_commit_callbacks):
    broken = services.device_assign(device=DeviceFactory(organization=org, enrollment_issues=["agent_missing"]),
                                    employee=employee, actor=actor)
    fine = DeviceFactory(organization=org)
    action = bulk.bulk_action("send_fix_instructions")
    with django_capture_on_commit_callbacks(execute=True):
        body = bulk.devices_bulk_run(organization=org, actor=actor, action=action, device_ids=[broken.pk, fine.pk],
                                     arguments=bulk.bulk_arguments(organization=org, action=action), source="manual")
    results = by_id(body)
    assert (results[broken.pk]["ok"], results[broken.pk]["code"]) == (True, "sent")
    assert (results[fine.pk]["ok"], results[fine.pk]["code"]) == (False, "nothing_to_send")
    assert [m.to for m in mail.outbox] == [[employee.email]]


def fleet_macs(org, sim, n):
    """``n`` synced Macs whose Fleet hosts are healthy (Fleet accepts to wipe and delete them)."""
    assert sync_now(org, sim).status == "succeeded"
    devices = list(Device.objects.for_org(org).filter(fleet_host_id__in=sim.ids_in_situation("healthy"),
                                                      platform=Platform.MACOS).order_by("fleet_host_id")[:n])
    assert len(devices) == n
    return devices


@pytest.mark.usefixtures("commands_run_now")
def test_archive_also_removes_from_fleet_after_the_wipe_as_one_device_does(connected, sim, actor,
                                                                          django_capture_on_commit_callbacks):
    wiped, kept = fleet_macs(connected, sim, 2)
    unknown = DeviceFactory(organization=connected, serial_number="NOT-IN-FLEET")  # never synced: no host
    action = bulk.bulk_action("archive")
    arguments = bulk.bulk_arguments(organization=connected, action=action, wipe=True, remove_from_fleet=True)
    assert arguments.as_params()["remove_from_fleet"] is True
    with django_capture_on_commit_callbacks(execute=True):
        body = bulk.devices_bulk_run(organization=connected, actor=actor, action=action,
                                     device_ids=[wiped.pk, kept.pk, unknown.pk], arguments=arguments, source="manual")
    results = by_id(body)
    assert results[wiped.pk]["detail"] == "Archived. Wipe requested. Removal from Fleet requested."
    # The single archive's rule: a device Fleet does not know is refused, and stays as it was.
    assert (results[unknown.pk]["ok"], results[unknown.pk]["code"]) == (False, "invalid")
    assert "not known to Fleet" in results[unknown.pk]["detail"]
    unknown.refresh_from_db()
    assert not unknown.is_archived and not unknown.commands.exists()
    for device in (wiped, kept):
        device.refresh_from_db()
        assert device.is_archived
        wipe = device.commands.get(kind=DeviceCommand.Kind.WIPE)
        removal = device.commands.get(kind=DeviceCommand.Kind.REMOVE)
        # The removal waits for the wipe asked before it: the wipe left, the host is still in Fleet.
        assert (wipe.status, removal.status, removal.attempts) == ("sent", "requested", 0)
        assert device.fleet_host_id in sim.host_ids()
        event = AuditEvent.objects.for_org(connected).for_target(device).get(event="device.archived")
        assert event.after["fleet_removal_requested"] is True and "removal from Fleet requested" in event.sentence


def test_archive_without_removal_asks_fleet_nothing(org, actor):
    device = DeviceFactory(organization=org, fleet_host_id=4242)
    action = bulk.bulk_action("archive")
    body = bulk.devices_bulk_run(organization=org, actor=actor, action=action, device_ids=[device.pk],
                                 arguments=bulk.bulk_arguments(organization=org, action=action), source="manual")
    assert by_id(body)[device.pk]["detail"] == "Archived."
    assert not device.commands.exists()


def test_removal_is_offered_with_archive_only(org):
    with pytest.raises(bulk.InvalidInput) as caught:
        bulk.bulk_arguments(organization=org, action=bulk.bulk_action("return_to_stock"), remove_from_fleet=True)
    assert caught.value.field == "arguments.remove_from_fleet"
    assert [a.name for a in bulk.bulk_actions() if a.offers_removal] == ["archive"]


def test_selection_from_the_lists_filters_is_what_the_list_shows(org):
    windows = [DeviceFactory(organization=org, platform="windows") for _ in range(3)]
    DeviceFactory(organization=org, platform="macos")
    ids = bulk.selection_from_spec(organization=org, spec={"platform": "windows", "ordering": ["id"]})
    assert ids == [d.pk for d in windows]


def test_selection_above_the_maximum_is_refused(org, settings):
    settings.DEVICES_BULK_MAX_DEVICES = 2
    with pytest.raises(bulk.InvalidInput) as caught:
        bulk.selection_from_ids([1, 2, 3])
    assert caught.value.field == "ids"
    assert bulk.selection_from_ids([3, 1, 3]) == [3, 1]


# --- the API -------------------------------------------------------------------------------------------------


def test_api_assign_by_ids(api, org, employee):
    free, taken = DeviceFactory(organization=org), DeviceFactory(organization=org)
    services.device_assign(device=taken, employee=EmployeeFactory(organization=org), actor=bulk.Actor.system("t"))
    response = post(api, action="assign", ids=[free.pk, taken.pk], arguments={"employee": employee.email})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["total"], body["succeeded"], body["failed"]) == (2, 1, 1)
    assert by_id(body)[taken.pk]["code"] == "illegal_transition"
    free.refresh_from_db()
    assert free.assignee == employee
    assert AuditEvent.objects.for_org(org).for_target(free).get(event="device.assigned").source == "api"


def test_api_by_filters(api, org):
    in_use = [DeviceFactory(organization=org, availability_status="in_use") for _ in range(2)]
    stocked = DeviceFactory(organization=org)
    response = post(api, action="return_to_stock", filters={"availability_status": "in_use"})
    assert response.status_code == 200, response.content
    assert {r["device_id"] for r in response.json()["results"]} == {d.pk for d in in_use}
    assert Device.objects.filter(pk__in=[d.pk for d in in_use], availability_status="in_stock").count() == 2
    assert stocked.pk not in by_id(response.json())


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "explode", "ids": [1]}, "action"),
    ({"action": "archive"}, "ids"),
    ({"action": "archive", "ids": [1], "filters": {}}, "ids"),
    ({"action": "archive", "ids": []}, "ids"),
    ({"action": "archive", "ids": ["x"]}, "ids.0"),
    ({"action": "assign", "ids": [1]}, "arguments.employee"),
    ({"action": "assign", "ids": [1], "arguments": {"employee": "nobody@acme.test"}}, "arguments.employee"),
    ({"action": "add_to_group", "ids": [1], "arguments": {"group": "No such group"}}, "arguments.group"),
    ({"action": "add_to_group", "ids": [1], "arguments": {"wipe": True, "group": "x"}}, "arguments.group"),
    ({"action": "unassign", "ids": [1], "arguments": {"colour": "red"}}, "arguments.colour"),
    ({"action": "unassign", "ids": [1], "arguments": {"remove_from_fleet": True}}, "arguments.remove_from_fleet"),
    ({"action": "archive", "filters": {"platform": "amiga"}}, "filters.platform"),
    ({"action": "archive", "filters": {"flavour": "x"}}, "filters.flavour"),
    ({"action": "archive", "filters": {"platform": "chromeos"}}, "filters"),
])
def test_api_bad_input_is_a_400_that_changes_nothing(api, org, body, field):
    device = DeviceFactory(organization=org, availability_status="in_use")
    response = post(api, **body)
    error = assert_error(response, 400)
    assert field in error["fields"], error
    device.refresh_from_db()
    assert device.availability_status == "in_use" and device.version == 1


def test_api_archive_with_removal_from_fleet(api, org):
    known = DeviceFactory(organization=org, fleet_host_id=4242, serial_number="C02K")
    unknown = DeviceFactory(organization=org, serial_number="C02U")
    response = post(api, action="archive", ids=[known.pk, unknown.pk], arguments={"remove_from_fleet": True})
    assert response.status_code == 200, response.content
    results = by_id(response.json())
    assert (results[known.pk]["ok"], results[unknown.pk]["ok"], results[unknown.pk]["code"]) == (True, False,
                                                                                                  "invalid")
    assert list(known.commands.values_list("kind", "source")) == [("remove", "api")]
    assert not unknown.commands.exists()


def test_api_schema_documents_the_removal_argument(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    arguments = schema["components"]["schemas"]["BulkArgumentsRequest"]["properties"]
    assert arguments["remove_from_fleet"]["type"] == "boolean"
    assert "archive" in arguments["remove_from_fleet"]["description"]


def test_api_selection_above_the_maximum_is_a_400(api, org, settings):
    settings.DEVICES_BULK_MAX_DEVICES = 2
    devices = [DeviceFactory(organization=org) for _ in range(3)]
    assert_error(post(api, action="archive", ids=[d.pk for d in devices]), 400, field="ids")
    assert_error(post(api, action="archive", filters={}), 400, field="filters")
    assert not Device.objects.filter(availability_status="archived").exists()


def test_api_read_token_may_not_write(org):
    read = api_client_for(token_key(org, "read"))
    assert_error(read.post(URL, {"action": "archive", "ids": [1]}, format="json"), 403)


def test_api_leaving_employee_is_a_warning(api, org, employee, actor, monkeypatch):
    monkeypatch.setattr(bulk.rules, "leaving_warnings_for", lambda **kw: [
        {"code": "employee_leaving", "detail": "Ada is leaving.", "employee": employee.pk}])
    device = DeviceFactory(organization=org)
    response = post(api, action="assign", ids=[device.pk], arguments={"employee": employee.pk})
    assert response.json()["warnings"][0]["code"] == "employee_leaving"
    assert response.json()["succeeded"] == 1


def test_api_above_the_threshold_is_a_job_with_the_same_body(api, org, settings, jobs_run_now,
                                                             django_capture_on_commit_callbacks):
    settings.DEVICES_BULK_SYNC_MAX_DEVICES = 2
    devices = [DeviceFactory(organization=org, availability_status="in_use") for _ in range(3)]
    ids = [d.pk for d in devices] + [987654]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, action="return_to_stock", ids=ids)
    assert response.status_code == 202, response.content
    assert response["Location"].endswith(f"/api/v1/jobs/{response.json()['id']}/")
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.status, job.progress_done, job.progress_total) == ("devices.bulk", "succeeded", 4, 4)
    assert (job.result["total"], job.result["succeeded"], job.result["failed"]) == (4, 3, 1)
    assert [r["device_id"] for r in job.result["results"]] == ids
    polled = api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert polled["result"] == job.result
    listed = api.get(URL).json()
    assert [j["id"] for j in listed["results"]] == [job.pk]
    audit = AuditEvent.objects.for_org(org).filter(event="device.returned_to_stock")
    assert audit.count() == 3 and {e.actor_label for e in audit} == {job.created_by}


def test_api_job_keeps_the_removal_from_fleet(api, org, settings, jobs_run_now, django_capture_on_commit_callbacks):
    settings.DEVICES_BULK_SYNC_MAX_DEVICES = 1
    devices = [DeviceFactory(organization=org, fleet_host_id=5000 + n) for n in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, action="archive", ids=[d.pk for d in devices], arguments={"remove_from_fleet": True})
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.params["arguments"]["remove_from_fleet"] is True
    assert (job.status, job.result["succeeded"]) == ("succeeded", 2)
    assert DeviceCommand.objects.filter(device__in=devices, kind="remove").count() == 2
