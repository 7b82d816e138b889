"""Regressions found by walking the assignment pages in a browser (QA pass)."""

from assignment.models import CsvImport
from tests.assignment.test_surfaces import HEADER, sales, upload  # noqa: F401 (fixture)
from tests.factories import DeviceFactory


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
