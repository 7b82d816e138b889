"""The inventory's bulk actions in the cockpit (``devices.views_bulk``): the action bar posts the checked rows (or
every device matching the filters), a confirmation page says what will happen, then the results or the job's
progress; and the inventory's table (checkboxes, columns, groups) keeps its constant number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import jobs
from core.jobs import Job
from core.models import Membership
from core.tasks import job_run
from devices import services
from devices.models import Device
from tests.cockpit.pages import url
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

pytestmark = pytest.mark.django_db


def bulk_url(org):
    return reverse("device_bulk", args=[org.slug])


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def in_use(org, employee, actor):
    """Three assigned devices and one already in stock."""
    devices = [services.device_assign(device=DeviceFactory(organization=org, name=f"mbp-{n}"), employee=employee,
                                      actor=actor) for n in range(3)]
    return devices + [DeviceFactory(organization=org, name="spare")]


def test_inventory_shows_the_action_bar_and_row_checkboxes_to_who_may_act(cockpit_client, client, org, in_use):
    body = cockpit_client.get(url("device_list", org)).content.decode()
    assert 'id="bulk-form"' in body and 'id="bulk-bar"' in body and 'id="select-page"' in body
    assert body.count('name="ids"') == 4
    assert 'value="return_to_stock"' in body and 'value="send_fix_instructions"' in body
    assert 'class="list selectable hide-assignment"' in body  # the default columns fit 1280 px
    viewer = member(org, Membership.Role.VIEWER)
    client.force_login(viewer)
    body = client.get(url("device_list", org)).content.decode()
    assert 'id="bulk-form"' not in body and 'class="list hide-assignment"' in body  # checkboxes hidden by CSS


def test_groups_column_shows_the_device_groups_and_its_owners(cockpit_client, org, actor):
    engineering, london = GroupFactory(organization=org, name="Engineering"), GroupFactory(organization=org,
                                                                                           name="London")
    ada = EmployeeFactory(organization=org)
    ada.groups.set([engineering, london])
    device = services.device_assign(device=DeviceFactory(organization=org), employee=ada, actor=actor)
    device.groups.add(london)
    body = cockpit_client.get(url("device_list", org)).content.decode()
    assert '<span class="tag">London</span>' in body
    assert '<span class="tag via-owner" title="Through its owner">Engineering</span>' in body
    assert "via-owner" not in body.split("Engineering</span>", 1)[1].split("</tr>", 1)[0]


def test_inventory_queries_do_not_grow_with_owners_and_groups(cockpit_client, org, actor):
    groups = [GroupFactory(organization=org) for _ in range(3)]

    def add(count):
        for n in range(count):
            owner = EmployeeFactory(organization=org)
            owner.groups.set(groups[: n % 3 + 1])
            device = services.device_assign(device=DeviceFactory(organization=org), employee=owner, actor=actor)
            device.groups.add(groups[n % 3])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert cockpit_client.get(url("device_list", org)).status_code == 200
        # The list's own statements (a session's periodic write-through may come and go).
        return len([q for q in ctx.captured_queries if "session" not in q["sql"] and "SAVEPOINT" not in q["sql"]])

    queries()  # the user and memberships are cached from here on
    add(3)
    small = queries()
    add(30)
    assert queries() == small


def test_apply_shows_a_confirmation_then_the_results(cockpit_client, org, in_use):
    ids = [d.pk for d in in_use]
    response = cockpit_client.post(bulk_url(org), {"action": "return_to_stock", "ids": ids})
    assert response.status_code == 200
    page = text(response)
    assert "<strong>4</strong> devices selected" in page and "mbp-0" in page and "spare" in page
    assert "3 of them have an owner" in page and 'id="id_wipe" checked' in page  # recommended: owners change
    assert Device.objects.filter(availability_status="in_stock").count() == 1  # nothing done yet
    response = cockpit_client.post(bulk_url(org), {"action": "return_to_stock", "ids": ids, "confirmed": "on",
                                                   "wipe": "on"})
    assert response.status_code == 200
    page = text(response)
    assert "<strong>3</strong> succeeded, <strong>1</strong> failed" in page
    assert "spare is already in stock." in page
    assert Device.objects.filter(availability_status="in_stock").count() == 4
    assert Device.objects.get(pk=ids[0]).commands.filter(kind="wipe").count() == 1


def test_archive_offers_the_removal_from_fleet_and_says_which_devices_fleet_does_not_know(cockpit_client, org,
                                                                                          in_use):
    for device in in_use[:2]:
        Device.objects.filter(pk=device.pk).update(fleet_host_id=7000 + device.pk)
    ids = [d.pk for d in in_use]
    page = text(cockpit_client.post(bulk_url(org), {"action": "archive", "ids": ids}))
    assert 'name="remove_from_fleet" id="id_remove_from_fleet">' in page  # offered, never pre-ticked
    assert "2 of them are not known to Fleet" in page
    assert 'name="remove_from_fleet"' not in text(cockpit_client.post(bulk_url(org), {"action": "return_to_stock",
                                                                                      "ids": ids}))
    response = cockpit_client.post(bulk_url(org), {"action": "archive", "ids": ids, "confirmed": "on",
                                                   "remove_from_fleet": "on"})
    page = text(response)
    assert "<strong>2</strong> succeeded, <strong>2</strong> failed" in page
    assert "spare is not known to Fleet: there is nothing to remove." in page
    assert "Archived. Removal from Fleet requested." in page
    assert sorted(Device.objects.filter(availability_status="archived").values_list("pk", flat=True)) == ids[:2]
    for device in in_use[:2]:
        assert list(device.commands.values_list("kind", flat=True)) == ["remove"]


def test_all_matching_the_filter_selects_beyond_the_page(cockpit_client, org, settings):
    windows = [DeviceFactory(organization=org, platform="windows") for _ in range(55)]
    mac = DeviceFactory(organization=org, platform="macos")
    sales = GroupFactory(organization=org, name="Sales")
    list_page = cockpit_client.get(url("device_list", org, platform="windows")).content.decode()
    assert "Select all 55 devices matching this filter" in list_page
    assert 'name="filters" value="platform=windows"' in list_page
    form = {"action": "add_to_group", "group": sales.pk, "all_matching": "on", "filters": "platform=windows",
            "ids": [windows[0].pk]}
    page = text(cockpit_client.post(bulk_url(org), form))
    assert "<strong>55</strong> devices selected" in page and "… and 35 more devices." in page
    page = text(cockpit_client.post(bulk_url(org), form | {"confirmed": "on"}))
    assert "<strong>55</strong> succeeded, <strong>0</strong> failed" in page
    assert set(sales.devices.values_list("pk", flat=True)) == {d.pk for d in windows}
    assert not mac.groups.exists()


@pytest.mark.parametrize(("form", "message"), [
    ({"action": "assign"}, "This action needs an employee."),
    ({"action": "assign", "employee": "nobody@acme.test"}, "No employee “nobody@acme.test” in this organization."),
    ({"action": "add_to_group"}, "This action needs a group of this organization."),
    ({"action": "explode"}, "Select a valid choice."),
    ({"action": "archive", "ids": ["x"]}, "A selected device is not a device id."),
])
def test_bad_input_is_shown_and_changes_nothing(cockpit_client, org, in_use, form, message):
    response = cockpit_client.post(bulk_url(org), {"ids": [in_use[0].pk], **form, "confirmed": "on"})
    assert response.status_code == 400
    assert message in text(response)
    assert Device.objects.filter(availability_status="in_use").count() == 3


def test_a_selection_above_the_maximum_is_refused(cockpit_client, org, in_use, settings):
    settings.DEVICES_BULK_MAX_DEVICES = 3
    response = cockpit_client.post(bulk_url(org), {"action": "archive", "all_matching": "on", "filters": ""})
    assert response.status_code == 400
    assert "A bulk action takes at most 3 devices; narrow the selection." in text(response)
    assert not Device.objects.filter(availability_status="archived").exists()


def test_nothing_selected_goes_back_to_the_list(cockpit_client, org, in_use):
    response = cockpit_client.post(bulk_url(org), {"action": "archive", "filters": "platform=macos"})
    assert response.status_code == 302 and response["Location"] == url("device_list", org) + "?platform=macos"
    assert not Device.objects.filter(availability_status="archived").exists()


def test_another_organizations_devices_are_reported_not_found(cockpit_client, org, other_org, in_use):
    foreign = DeviceFactory(organization=other_org, availability_status="in_use")
    page = text(cockpit_client.post(bulk_url(org), {"action": "archive", "ids": [foreign.pk, in_use[3].pk],
                                                    "confirmed": "on"}))
    assert "<strong>1</strong> succeeded, <strong>1</strong> failed" in page and f"#{foreign.pk}" in page
    foreign.refresh_from_db()
    assert foreign.availability_status == "in_use"


def test_only_who_may_act_on_devices(client, org, in_use):
    client.force_login(member(org, Membership.Role.VIEWER))
    assert client.post(bulk_url(org), {"action": "archive", "ids": [in_use[0].pk], "confirmed": "on"}).status_code \
        == 403
    assert not Device.objects.filter(availability_status="archived").exists()
    technician = member(org, Membership.Role.TECHNICIAN)
    client.force_login(technician)
    response = client.post(bulk_url(org), {"action": "archive", "ids": [in_use[0].pk], "confirmed": "on"})
    assert response.status_code == 200
    assert Device.objects.filter(availability_status="archived").count() == 1


def test_a_large_selection_is_a_job_with_progress_then_the_results(cockpit_client, org, settings, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    settings.DEVICES_BULK_SYNC_MAX_DEVICES = 2
    devices = [DeviceFactory(organization=org, availability_status="in_use") for _ in range(3)]
    form = {"action": "return_to_stock", "ids": [d.pk for d in devices], "confirmed": "on"}
    confirm = text(cockpit_client.post(bulk_url(org), {k: v for k, v in form.items() if k != "confirmed"}))
    assert "handled in the background" in confirm
    monkeypatch.setattr(jobs, "queue_job", lambda job_id: None)  # a worker picks it up later
    with django_capture_on_commit_callbacks(execute=True):
        response = cockpit_client.post(bulk_url(org), form)
    job = Job.objects.get(kind="devices.bulk")
    job_url = reverse("job_device_bulk", args=[org.slug, job.pk])
    assert response.status_code == 302 and response["Location"] == job_url
    page = cockpit_client.get(job_url).content.decode()
    assert f'id="job-{job.pk}"' in page and 'hx-trigger="every 1s"' in page  # the progress partial, polled
    job_run.apply(args=[job.pk]).get()
    page = text(cockpit_client.get(job_url))
    assert "<strong>3</strong> succeeded, <strong>0</strong> failed" in page
    assert Device.objects.filter(availability_status="in_stock").count() == 3


def test_job_page_of_another_kind_or_organization_is_404(cockpit_client, org, other_org):
    from tests.core.factories import JobFactory

    for job in (JobFactory(organization=org, kind="assignment.csv_import"),
                JobFactory(organization=other_org, kind="devices.bulk")):
        assert cockpit_client.get(reverse("job_device_bulk", args=[org.slug, job.pk])).status_code == 404
