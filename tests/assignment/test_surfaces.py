"""The three doors to the same services: the cockpit pages, the API and ``manage.py import_assignments``."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from assignment.models import CsvImport, PreAssignment
from core.models import Employee, Membership
from devices import services as device_services
from devices.models import Device
from tests.conftest import api_client_for, assert_error, member, token_key
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

HEADER = "Serial Number,User Name,Domain Name,Email Address,Group Name,Owned By"
GOOD_AND_BAD = (f"{HEADER}\nC02ONE,ada,,ada@acme.test,Sales,\nC02TWO,bob,,bob@acme.test,Nope,\n"
                "C02HERE,ada,,ada@acme.test,Sales,Personal\n")


@pytest.fixture
def sales(org):
    return GroupFactory(organization=org, name="Sales")


def upload(client, org, text, kind="assign", name="assign.csv", **extra):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"/o/{org.slug}/pre-assignments/import/",
                       {"kind": kind, "file": _file(data, name)}, **extra)


def _file(data: bytes, name: str):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


# --- cockpit -----------------------------------------------------------------------------------------------


def test_upload_preview_skip_errors_commit(cockpit_client, org, sales, employee):
    DeviceFactory(organization=org, serial_number="C02HERE")
    response = upload(cockpit_client, org, GOOD_AND_BAD + "C02NEWBIE,nb,,newbie@acme.test,Sales,\n")
    assert response.status_code == 302
    record = CsvImport.objects.get()
    page = cockpit_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Line 3: Unknown group: Nope (create it first)." in html
    assert "newbie@acme.test <span class=\"badge badge-info\">new employee</span>" in html  # shown as such
    assert "Download the 1 rejected row" in html

    refused = cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/commit/")
    assert refused.status_code == 400
    assert "1 row(s) are in error" in refused.content.decode()
    assert not PreAssignment.objects.exists()

    done = cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/commit/", {"skip_errors": "on"})
    assert done.status_code == 302
    record.refresh_from_db()
    assert record.status == "committed"
    assert Device.objects.get(serial_number="C02HERE").assignee == employee
    assert PreAssignment.objects.filter(serial_number="C02ONE", status="waiting").exists()
    assert not Employee.objects.filter(email="bob@acme.test").exists()  # only on the skipped row
    assert PreAssignment.objects.get(serial_number="C02NEWBIE").employee.email == "newbie@acme.test"
    assert "Committed" in cockpit_client.get(done["Location"]).content.decode()


def test_rejected_rows_file_has_the_original_columns_and_an_error_column(cockpit_client, org, sales):
    text = f"{HEADER},Notes\nC02ONE,ada,,ada@acme.test,Sales,,fine\n=C02BAD,bob,,bob@acme.test,Nope,,\"x, y\"\n"
    upload(cockpit_client, org, text)
    record = CsvImport.objects.get()
    response = cockpit_client.get(f"/o/{org.slug}/pre-assignments/import/{record.pk}/rejected.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [*HEADER.split(","), "Notes", "Error"]
    assert rows[1] == ["'=C02BAD", "bob", "", "bob@acme.test", "Nope", "", "x, y",
                       "line 3: Unknown group: Nope (create it first)."]  # formula-safe cells
    assert len(rows) == 2

    # Fixed and uploaded again, the Error column is just an ignored column.
    fixed = response.content.decode("utf-8-sig").replace("'=C02BAD", "C02BAD").replace(",Nope,", ",Sales,")
    upload(cockpit_client, org, fixed)
    again = CsvImport.objects.latest("id")
    assert again.ignored_columns == ["Notes", "Error"]
    assert [row["action"] for row in again.rows] == ["create"]


def test_template_round_trips(cockpit_client, org, sales):
    response = cockpit_client.get(f"/o/{org.slug}/pre-assignments/import/template.csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == HEADER.split(",")
    filled = response.content + b"C02TPL,ada,CORP,ada@acme.test,Sales,Personal\r\n"
    upload(cockpit_client, org, filled)
    record = CsvImport.objects.get()
    assert record.ignored_columns == [] and record.rows[0]["action"] == "create"
    assert (record.rows[0]["domain"], record.rows[0]["ownership"]) == ("CORP", "personal")


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(cockpit_client, org):
    class Unreadable(io.RawIOBase):
        def read(self, *args):  # pragma: no cover - reaching it is the failure
            raise AssertionError("the body was read")

    response = cockpit_client.generic(
        "POST", f"/o/{org.slug}/pre-assignments/import/", b"",
        content_type="multipart/form-data; boundary=BoUnDaRy", CONTENT_LENGTH=str(50 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert "The file is too large: the limit is 20.0\xa0MB." in response.content.decode()
    assert not CsvImport.objects.exists()


def test_an_upload_over_the_limit_without_a_declared_length_is_stopped(cockpit_client, org, settings):
    settings.ASSIGNMENT_CSV_MAX_BYTES = 2000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    response = upload(cockpit_client, org, HEADER + "\n" + "C02A,ada,,ada@acme.test,Sales,\n" * 200)
    assert response.status_code == 413
    assert "The file is too large" in response.content.decode()


def test_bad_files_answer_on_the_upload_page(cockpit_client, org):
    response = upload(cockpit_client, org, b"\x00\x01binary\x00" * 50, name="x.bin")
    assert response.status_code == 400
    assert "This is a binary file, not a CSV text file." in response.content.decode()
    response = upload(cockpit_client, org, "C02A,ada,,ada@acme.test,Sales\n")
    assert "the header row is missing" in response.content.decode()


def test_large_files_show_progress(cockpit_client, org, sales, monkeypatch):
    monkeypatch.setattr("assignment.services.csv_imports.ANALYSE_CHUNK", 10)
    text = HEADER + "\n" + "".join(f"C02P{i},u,,u{i}@acme.test,Sales,\n" for i in range(25))
    response = upload(cockpit_client, org, text)
    record = CsvImport.objects.get()
    assert (record.status, record.processed_rows) == ("analysing", 10)
    page = cockpit_client.get(response["Location"]).content.decode()
    assert "20 of 25 rows" in page and 'http-equiv="refresh"' in page
    page = cockpit_client.get(response["Location"]).content.decode()
    assert "Preview" in page and 'http-equiv="refresh"' not in page
    record.refresh_from_db()
    assert record.status == "previewed" and record.counts["create"] == 25


def test_discard(cockpit_client, org, sales):
    upload(cockpit_client, org, GOOD_AND_BAD)
    record = CsvImport.objects.get()
    assert cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/discard/").status_code == 302
    record.refresh_from_db()
    assert record.status == "discarded" and record.rows == []
    assert cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/commit/").status_code == 409


def test_technicians_cannot_import_but_can_pre_assign(client, org, employee, sales):
    client.force_login(member(org, Membership.Role.TECHNICIAN))
    assert upload(client, org, GOOD_AND_BAD).status_code == 403
    response = client.post(f"/o/{org.slug}/pre-assignments/new/", {
        "serial_number": "c02tech", "employee": "ada@acme.test", "groups": [sales.pk], "ownership": "corporate"})
    assert response.status_code == 302
    assert PreAssignment.objects.get().serial_number == "C02TECH"


def test_pre_assignment_pages(cockpit_client, org, employee, sales, actor):
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    busy = device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02BUSY"),
                                         employee=grace, actor=actor)
    response = cockpit_client.post(f"/o/{org.slug}/pre-assignments/new/", {
        "serial_number": "C02BUSY", "employee": "ada@acme.test", "ownership": "corporate"})
    pa = PreAssignment.objects.get()
    assert response.status_code == 302 and pa.status == "conflict"
    listing = cockpit_client.get(f"/o/{org.slug}/pre-assignments/?status=conflict").content.decode()
    assert "C02BUSY" in listing
    assert "C02BUSY" not in cockpit_client.get(f"/o/{org.slug}/pre-assignments/?status=waiting").content.decode()
    device_page = cockpit_client.get(f"/o/{org.slug}/devices/{busy.pk}/").content.decode()
    assert "in conflict" in device_page and "Settle the conflict" in device_page

    duplicate = cockpit_client.post(f"/o/{org.slug}/pre-assignments/new/", {
        "serial_number": "c02busy", "employee": "grace@acme.test", "ownership": "corporate"})
    assert duplicate.status_code == 400
    assert "already pre-assigned to ada@acme.test" in duplicate.content.decode()

    assert cockpit_client.get(f"/o/{org.slug}/pre-assignments/{pa.pk}/settle/").status_code == 200
    response = cockpit_client.post(f"/o/{org.slug}/pre-assignments/{pa.pk}/settle/", {"decision": "assign"})
    assert response.status_code == 302
    busy.refresh_from_db()
    assert busy.assignee == employee

    edit = cockpit_client.post(f"/o/{org.slug}/pre-assignments/{pa.pk}/edit/", {
        "serial_number": "C02BUSY", "employee": "ada@acme.test", "ownership": "corporate"})
    assert edit.status_code == 409  # applied: it can no longer change
    other = cockpit_client.post(f"/o/{org.slug}/pre-assignments/new/", {
        "serial_number": "C02WAIT", "employee": "ada@acme.test", "ownership": "corporate", "groups": [sales.pk]})
    waiting = PreAssignment.objects.get(serial_number="C02WAIT")
    assert other.status_code == 302
    assert cockpit_client.post(f"/o/{org.slug}/pre-assignments/{waiting.pk}/cancel/").status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert "Pre-assigned devices" not in cockpit_client.get(f"/o/{org.slug}/employees/{employee.pk}/").content.decode()


def test_employee_page_lists_pending_pre_assignments(cockpit_client, org, employee, actor):
    from assignment.services import pre_assignment_create

    pre_assignment_create(organization=org, actor=actor, serial_number="C02EMP", employee=employee)
    page = cockpit_client.get(f"/o/{org.slug}/employees/{employee.pk}/").content.decode()
    assert "Pre-assigned devices" in page and "C02EMP" in page


# --- API ---------------------------------------------------------------------------------------------------


def test_api_crud_and_filters(api, org, employee, sales):
    response = api.post("/api/v1/pre-assignments/", {"serial_number": "c02api", "employee": "ADA@acme.test",
                                                      "groups": ["sales"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["serial_number"] == "C02API" and body["status"] == "waiting" and body["groups"] == ["Sales"]
    assert body["employee"] == {"id": employee.pk, "email": "ada@acme.test", "name": "Ada Lovelace"}
    assert body["source"] == "api" and body["domain_name"] == "MDM" and body["ownership"] == "corporate"

    assert_error(api.post("/api/v1/pre-assignments/", {"serial_number": "C02API", "employee": employee.pk},
                          format="json"), 400, field="serial_number")
    assert_error(api.post("/api/v1/pre-assignments/", {"serial_number": "X", "employee": "nobody@x.test"},
                          format="json"), 400, field="employee")
    assert_error(api.post("/api/v1/pre-assignments/", {"serial_number": "X", "employee": employee.pk,
                                                        "status": "applied"}, format="json"), 400, field="status")

    pk = body["id"]
    patched = api.patch(f"/api/v1/pre-assignments/{pk}/", {"ownership": "personal"}, format="json")
    assert patched.status_code == 200 and patched.json()["ownership"] == "personal"
    assert api.get("/api/v1/pre-assignments/?status=waiting").json()["count"] == 1
    assert api.get("/api/v1/pre-assignments/?status=applied").json()["count"] == 0
    assert api.get("/api/v1/pre-assignments/?serial_number=c02api").json()["count"] == 1
    assert_error(api.get("/api/v1/pre-assignments/?status=lost"), 400, field="status")

    cancelled = api.post(f"/api/v1/pre-assignments/{pk}/cancel/", {}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_error(api.post(f"/api/v1/pre-assignments/{pk}/cancel/", {}, format="json"), 409,
                 code="illegal_transition")
    assert_error(api.delete(f"/api/v1/pre-assignments/{pk}/"), 405)


def test_api_settle(api, org, employee, actor):
    grace = EmployeeFactory(organization=org)
    device = device_services.device_assign(device=DeviceFactory(organization=org, serial_number="C02B"),
                                           employee=grace, actor=actor)
    pk = api.post("/api/v1/pre-assignments/", {"serial_number": "C02B", "employee": employee.pk},
                  format="json").json()["id"]
    assert_error(api.post(f"/api/v1/pre-assignments/{pk}/settle/", {"decision": "x"}, format="json"), 400,
                 field="decision")
    response = api.post(f"/api/v1/pre-assignments/{pk}/settle/", {"decision": "assign", "wipe": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "applied"
    device.refresh_from_db()
    assert device.assignee == employee


def test_api_import_dry_run_then_commit(api, org, employee, sales):
    dry = api.post("/api/v1/pre-assignments/import/", {"file": _file(GOOD_AND_BAD.encode(), "a.csv"),
                                                        "dry_run": "true"}, format="multipart")
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert [row["action"] for row in body["rows"]] == ["create", "error", "create"]
    assert body["rows"][1]["errors"] == ["Unknown group: Nope (create it first)."]
    assert body["rows"][1]["line"] == 3 and body["counts"]["error"] == 1
    assert not PreAssignment.objects.exists()

    refused = api.post("/api/v1/pre-assignments/import/", {"file": _file(GOOD_AND_BAD.encode(), "a.csv")},
                       format="multipart")
    body = assert_error(refused, 400, field="file")
    assert body["fields"]["file"][1] == "line 3: Unknown group: Nope (create it first)."
    assert not PreAssignment.objects.exists()

    done = api.post("/api/v1/pre-assignments/import/", {"file": _file(GOOD_AND_BAD.encode(), "a.csv"),
                                                         "skip_errors": "true"}, format="multipart")
    assert done.status_code == 201, done.content
    assert done.json()["result"] == {"created": 2, "updated": 0, "assigned": 0, "conflicts": 0, "new_employees": 0,
                                     "skipped": 1}
    assert PreAssignment.objects.filter(source="csv_import").count() == 2
    listed = api.get("/api/v1/pre-assignments/import/").json()
    assert listed["count"] == 3 and listed["results"][0]["status"] == "committed"


def test_api_import_bad_files(api, org, settings):
    assert_error(api.post("/api/v1/pre-assignments/import/", {"file": _file(b"\x00\xff" * 100, "b.bin")},
                          format="multipart"), 400, field="file")
    assert_error(api.post("/api/v1/pre-assignments/import/", {}, format="multipart"), 400, field="file")
    settings.ASSIGNMENT_CSV_MAX_BYTES = 10
    body = assert_error(api.post("/api/v1/pre-assignments/import/", {"file": _file(b"x" * 100_000, "big.csv")},
                                 format="multipart"), 413, code="too_large")
    assert body["detail"].startswith("The file is too large")


def test_api_import_needs_a_write_token(read_api, org):
    response = read_api.post("/api/v1/pre-assignments/import/", {"file": _file(GOOD_AND_BAD.encode(), "a.csv")},
                             format="multipart")
    assert_error(response, 403)


def test_api_is_tenant_scoped(org, other_org, employee, actor):
    from assignment.services import pre_assignment_create

    pa = pre_assignment_create(organization=org, actor=actor, serial_number="C02A", employee=employee)
    other = api_client_for(token_key(other_org))
    assert other.get("/api/v1/pre-assignments/").json()["count"] == 0
    assert_error(other.get(f"/api/v1/pre-assignments/{pa.pk}/"), 404)
    assert_error(other.post("/api/v1/pre-assignments/", {"serial_number": "C02A", "employee": employee.pk},
                            format="json"), 400, field="employee")


# --- command ------------------------------------------------------------------------------------------------


def test_command_dry_run_errors_and_commit(org, employee, sales, tmp_path, capsys):
    path = tmp_path / "a.csv"
    path.write_text(GOOD_AND_BAD)
    with pytest.raises(CommandError, match=r"1 row\(s\) in error \(dry run: nothing was changed\)"):
        call_command("import_assignments", org.slug, str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "line 2: C02ONE pre-assign (device not seen yet) [create]" in out
    assert "line 3: Unknown group: Nope (create it first). [error]" in out

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_assignments", org.slug, str(path))
    assert not PreAssignment.objects.exists()

    path.write_text(f"{HEADER}\nC02ONE,ada,,ada@acme.test,Sales,\n")
    call_command("import_assignments", org.slug, str(path))
    assert "Imported: 1 created." in capsys.readouterr().out
    assert PreAssignment.objects.get().created_by == "System (import_assignments)"


def test_command_refuses_unknown_org_missing_file_and_large_files(org, tmp_path, settings):
    with pytest.raises(CommandError, match="No organization"):
        call_command("import_assignments", "nope", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_assignments", org.slug, str(tmp_path / "x.csv"))
    settings.ASSIGNMENT_CSV_MAX_BYTES = 10
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 100)
    with pytest.raises(CommandError, match="The file is too large"):
        call_command("import_assignments", org.slug, str(big))


def test_upload_still_needs_the_csrf_token(admin_user, org, sales):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert upload(client, org, GOOD_AND_BAD).status_code == 403  # the size check comes first, then CSRF
    assert not CsvImport.objects.exists()
    page = client.get(f"/o/{org.slug}/pre-assignments/import/")
    token = page.cookies["csrftoken"].value
    response = client.post(f"/o/{org.slug}/pre-assignments/import/",
                           {"kind": "assign", "file": _file(GOOD_AND_BAD.encode(), "a.csv"),
                            "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and CsvImport.objects.count() == 1


def test_preview_notes_a_directory_login_the_file_does_not_change(cockpit_client, org, employee, sales):
    upload(cockpit_client, org, f"{HEADER}\nC02ONE,ada,,ada@acme.test,Sales,\n")
    row = CsvImport.objects.get().rows[0]
    assert row["notes"] == [f"The employee's directory login stays CORP\\{employee.username} (the file says MDM\\ada)."]
