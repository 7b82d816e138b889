"""Regressions found by walking the assignment pages in a browser (QA pass)."""

import re

from django.urls import reverse

from assignment import services
from assignment.models import CsvImport
from core.audit import Source
from devices import services as device_services
from devices.models import Device
from tests.assignment.test_surfaces import HEADER, sales, upload  # noqa: F401 (fixture)
from tests.factories import DeviceFactory, EmployeeFactory


def test_csv_preview_names_each_action_and_the_result_reads_as_done(cockpit_client, org, sales, employee):  # noqa: F811
    DeviceFactory(organization=org, serial_number="C02HERE")
    text = (f"{HEADER}\nC02ONE,nb,,newbie@acme.test,Sales,\nC02TWO,bob,,bob@acme.test,Nope,\n"
            f"C02HERE,x,,{employee.email},Sales,\n")
    response = upload(cockpit_client, org, text)
    record = CsvImport.objects.get()
    html = cockpit_client.get(response["Location"]).content.decode()
    # The rows say what happens in words, not the internal action codes.
    assert "Pre-assign (device not seen yet)</span>" in html and "Assign now</span>" in html
    assert '<span class="badge badge-info">create</span>' not in html
    # A row in error creates nobody: it is not labelled "new employee".
    assert "bob@acme.test <span" not in html and "New employee bob@acme.test" not in html
    assert "1 new employee will be created" in html

    done = cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/commit/", {"skip_errors": "on"})
    html = cockpit_client.get(done["Location"]).content.decode()
    assert "1 new employee created" in html and "will be created" not in html.split('id="import-rows"')[0]
    assert "1 created, 1 assigned, 1 new employees, 1 row(s) in error skipped." in html
    assert "new_employees" not in html


def test_a_conflict_links_to_the_device_and_both_employees(cockpit_client, org, employee, actor):
    owner = EmployeeFactory(organization=org, email="owner@acme.test", full_name="Olga Owner")
    device = DeviceFactory(organization=org, serial_number="C02TAKEN")
    device_services.device_assign(device=device, employee=owner, actor=actor, source=Source.MANUAL)
    pa = services.pre_assignment_create(organization=org, actor=actor, source=Source.MANUAL,
                                        serial_number="C02TAKEN", employee=employee, groups=[])
    assert pa.status == "conflict"
    device_url = reverse("device_detail", args=[org.slug, device.pk])
    owner_url = reverse("employee_detail", args=[org.slug, owner.pk])
    employee_url = reverse("employee_detail", args=[org.slug, employee.pk])
    for name in ("preassignment_detail", "preassignment_settle"):
        html = cockpit_client.get(reverse(name, args=[org.slug, pa.pk])).content.decode()
        assert device_url in html and owner_url in html and employee_url in html, name
    settle = cockpit_client.get(reverse("preassignment_settle", args=[org.slug, pa.pk])).content.decode()
    assert f"Give the device to {employee.display_name}" in settle and "Keep it with Olga Owner" in settle
    listing = cockpit_client.get(reverse("preassignment_list", args=[org.slug])).content.decode()
    assert employee_url in listing and device_url in listing and "badge badge-warn" in listing


def test_device_panel_names_the_current_owner_not_the_owner_at_conflict_time(cockpit_client, org, employee, actor):
    first = EmployeeFactory(organization=org, email="first@acme.test", full_name="First Owner")
    second = EmployeeFactory(organization=org, email="second@acme.test", full_name="Second Owner")
    device = DeviceFactory(organization=org, serial_number="C02MOVED")
    device_services.device_assign(device=device, employee=first, actor=actor, source=Source.MANUAL)
    pa = services.pre_assignment_create(organization=org, actor=actor, source=Source.MANUAL,
                                        serial_number="C02MOVED", employee=employee, groups=[])
    assert pa.status == "conflict" and "first@acme.test" in pa.note
    device.refresh_from_db()
    device_services.device_reassign(device=device, employee=second, actor=actor, source=Source.MANUAL)
    html = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    panel = html[html.index('id="pre-assignment-panel"'):]
    panel = panel[:panel.index("</section>")]
    assert "Second Owner" in panel and reverse("employee_detail", args=[org.slug, second.pk]) in panel
    assert "first@acme.test" not in panel


def test_pre_assignment_filters_do_not_list_every_employee(cockpit_client, org, employee, actor):
    """The employee filter was a <select> of the whole directory (thousands of options on every page)."""
    for n in range(30):
        EmployeeFactory(organization=org, email=f"person{n}@acme.test")
    services.pre_assignment_create(organization=org, actor=actor, source=Source.MANUAL, serial_number="C02ONE",
                                   employee=employee, groups=[])
    url = reverse("preassignment_list", args=[org.slug])
    html = cockpit_client.get(url).content.decode()
    # A picker (issue #14 §4): a text box searching the organization's employees, no list of them in the page.
    assert "person29@acme.test" not in html
    assert re.search(r'<input type="text" name="employee"[^>]*data-lookup-url="/o/acme/lookup/employees/"', html)
    assert '<select name="source"' in html and "CSV import" in html
    assert "C02ONE" in cockpit_client.get(url, {"employee": employee.pk, "source": "manual"}).content.decode()
    assert "C02ONE" not in cockpit_client.get(url, {"source": "csv_import"}).content.decode()


def test_suggestion_panel_reason_box_is_labelled_for_rejection(cockpit_client, org, employee):
    from assignment.suggestion.services import suggestions_refresh
    from core.actors import Actor

    device = DeviceFactory(organization=org, name="C02SSO", fleet_emails=[
        {"email": employee.email, "source": "mdm_idp_accounts"}])
    suggestions_refresh(organization=org, actor=Actor.system("tests"))
    html = cockpit_client.get(reverse("device_detail", args=[org.slug, device.pk])).content.decode()
    panel = html[html.index('id="suggestion-panel"'):]
    assert 'placeholder="Reason for a rejection (optional)"' in panel and "<label>Reason <input" not in panel


def test_evidence_names_the_employee_only_when_it_points_elsewhere(cockpit_client, org, employee):
    from assignment.suggestion.services import suggestions_refresh
    from core.actors import Actor

    other = EmployeeFactory(organization=org, email="other@acme.test", full_name="Otto Other")
    DeviceFactory(organization=org, name="C02MIXED", fleet_emails=[
        {"email": employee.email, "source": "mdm_idp_accounts"}, {"email": other.email, "source": "custom"}])
    suggestions_refresh(organization=org, actor=Actor.system("tests"))
    html = cockpit_client.get(reverse("suggestion_list", args=[org.slug])).content.decode()
    evidence = html[html.index('<ul class="evidence">'):]
    evidence = evidence[:evidence.index("</ul>")]
    assert "Otto Other" in evidence and "Against:" in evidence  # the contrary evidence says whom it points to
    assert employee.display_name not in evidence  # the suggested employee is in the column beside it


def test_apply_now_is_offered_only_when_the_device_is_in_the_inventory(cockpit_client, org, employee, actor):
    pa = services.pre_assignment_create(organization=org, actor=actor, source=Source.MANUAL,
                                        serial_number="C02LATER", employee=employee, groups=[])
    url = reverse("preassignment_detail", args=[org.slug, pa.pk])
    html = cockpit_client.get(url).content.decode()
    assert "Apply now" not in html and "applied when the sync sees it" in html
    # The device arrives without the hook applying it (e.g. written by an import): the button appears and works.
    Device.objects.create(organization=org, serial_number="C02LATER", name="later")
    html = cockpit_client.get(url).content.decode()
    assert "Apply now" in html
    cockpit_client.post(reverse("preassignment_apply", args=[org.slug, pa.pk]))
    pa.refresh_from_db()
    assert pa.status == "applied"
