"""A person pre-assigning or importing devices for an employee whose offboarding is under way is warned, never
refused (issue #10 §4): CSV preview and commit (cockpit, API, command), pre-assignment creation (API, cockpit)."""

import io
import json

import pytest
from django.core.management import call_command

from assignment import services
from assignment.models import CsvImport, PreAssignment
from devices.models import Device
from tests.factories import DeviceFactory, GroupFactory

HEADER = "Serial Number,User Name,Domain Name,Email Address,Group Name,Owned By"
# Line 2: Lea, device not seen yet; line 3: Lea, device here (assigned at commit); line 4: Ada, no warning.
ROWS = (f"{HEADER}\nC02LEA1,lleaving,,lea@acme.test,Sales,\nC02LEA2,lleaving,,LEA@acme.test,Sales,\n"
        "C02ADA,ada,,ada@acme.test,Sales,\n")
LEA_WHY = "Lea Leaving is leaving: their offboarding has been started (draft)."


@pytest.fixture
def sales(org):
    return GroupFactory(organization=org, name="Sales")


@pytest.fixture
def here(org):
    return DeviceFactory(organization=org, serial_number="C02LEA2")


def _file(text: str, name="a.csv"):
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def test_preview_warns_and_the_commit_goes_ahead(org, actor, leaver, employee, sales, here):
    record = services.csv_import_start(organization=org, actor=actor, data=ROWS.encode(), filename="a.csv")
    rows = {row["line"]: row for row in record.rows}
    assert [rows[line]["action"] for line in (2, 3, 4)] == ["create", "assign_now", "create"]
    assert [w["detail"] for w in rows[2]["warnings"]] == [LEA_WHY]
    assert rows[3]["warnings"][0]["code"] == "employee_leaving" and rows[3]["warnings"][0]["employee"] == leaver.pk
    assert rows[4]["warnings"] == [] and record.counts.get("error", 0) == 0

    result = services.csv_import_commit(csv_import=record, actor=actor)

    assert result["created"] == 2 and result["assigned"] == 1
    here.refresh_from_db()
    assert here.assignee == leaver  # a person confirmed it: done, with the warning shown before
    assert PreAssignment.objects.get(serial_number="C02LEA1").employee == leaver


def test_a_row_in_error_carries_no_warning(org, actor, leaver):
    record = services.csv_import_start(organization=org, actor=actor, filename="a.csv",
                                       data=f"{HEADER}\nC02LEA1,lleaving,,lea@acme.test,Nope,\n".encode())
    [row] = record.rows
    assert row["action"] == "error" and row["warnings"] == []


def test_api_dry_run_and_commit_answer_warnings(api, org, leaver, employee, sales, here):
    dry = api.post("/api/v1/pre-assignments/import/", {"file": _file(ROWS), "dry_run": "true"}, format="multipart")
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["warnings"] == [
        {"code": "employee_leaving", "detail": LEA_WHY, "employee": leaver.pk, "row": 2, "serial_number": "C02LEA1"},
        {"code": "employee_leaving", "detail": LEA_WHY, "employee": leaver.pk, "row": 3, "serial_number": "C02LEA2"},
    ]
    assert body["rows"][0]["warnings"] == [LEA_WHY] and body["rows"][2]["warnings"] == []
    assert not PreAssignment.objects.exists()

    done = api.post("/api/v1/pre-assignments/import/", {"file": _file(ROWS)}, format="multipart")
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["status"] == "committed" and [w["row"] for w in body["warnings"]] == [2, 3]
    assert body["result"]["assigned"] == 1
    assert Device.objects.get(serial_number="C02LEA2").assignee == leaver


def test_an_import_without_leavers_answers_no_warnings(api, org, employee, sales):
    body = api.post("/api/v1/pre-assignments/import/",
                    {"file": _file(f"{HEADER}\nC02ADA,ada,,ada@acme.test,Sales,\n"), "dry_run": "true"},
                    format="multipart").json()
    assert body["warnings"] == [] and body["rows"][0]["warnings"] == []


def test_command_prints_the_warnings_and_imports(org, leaver, employee, sales, here, tmp_path, capsys):
    path = tmp_path / "a.csv"
    path.write_text(ROWS)
    call_command("import_assignments", org.slug, str(path))
    out = capsys.readouterr().out
    assert f"line 2: {LEA_WHY} [warning: imported all the same]" in out
    assert f"line 3: {LEA_WHY} [warning: imported all the same]" in out
    assert "line 4: " in out and out.count("[warning") == 2
    assert "2 warning(s)" in out and "Imported: 2 created, 1 assigned." in out
    assert PreAssignment.objects.filter(employee=leaver).count() == 2


def test_cockpit_preview_shows_the_warning_and_commits(cockpit_client, org, leaver, employee, sales, here):
    response = cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/", {"kind": "assign", "file": _file(ROWS)})
    assert response.status_code == 302
    record = CsvImport.objects.get()
    html = cockpit_client.get(response["Location"]).content.decode()
    assert 'id="import-warnings"' in html and "2 rows name employees whose offboarding is under way" in html
    rows = html[html.index('id="import-rows"'):]
    assert rows.count(LEA_WHY) == 2 and 'id="commit-form"' in html

    done = cockpit_client.post(f"/o/{org.slug}/pre-assignments/import/{record.pk}/commit/")
    assert done.status_code == 302
    messages = [(m.level_tag, str(m)) for m in done.wsgi_request._messages]
    assert any(level == "warning" and "2 rows named employees" in text for level, text in messages)
    record.refresh_from_db()
    assert record.status == CsvImport.Status.COMMITTED
    after = cockpit_client.get(done["Location"]).content.decode()
    assert "2 rows named employees whose offboarding is under way: they were imported all the same" in after


# --- creating a pre-assignment ------------------------------------------------------------------------------------


def test_api_create_for_a_leaver_succeeds_with_a_warning(api, org, leaver, employee):
    response = api.post("/api/v1/pre-assignments/", {"serial_number": "C02LEA", "employee": leaver.email},
                        format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "waiting" and body["employee"]["email"] == leaver.email
    assert body["warnings"] == [{"code": "employee_leaving", "detail": LEA_WHY, "employee": leaver.pk}]

    edited = api.patch(f"/api/v1/pre-assignments/{body['id']}/", {"domain_name": "CORP"}, format="json").json()
    assert edited["warnings"][0]["code"] == "employee_leaving"
    plain = api.post("/api/v1/pre-assignments/", {"serial_number": "C02ADA", "employee": employee.email},
                     format="json").json()
    assert plain["warnings"] == []
    assert "warnings" not in api.get(f"/api/v1/pre-assignments/{body['id']}/").json()


def test_api_create_applies_at_once_when_the_device_is_here(api, org, leaver):
    """Creating it is a person's explicit intent: applied to the device already here, with the warning."""
    device = DeviceFactory(organization=org, serial_number="C02LEA")
    body = api.post("/api/v1/pre-assignments/", {"serial_number": "C02LEA", "employee": leaver.pk},
                    format="json").json()
    assert body["status"] == "applied" and body["warnings"][0]["detail"] == LEA_WHY
    device.refresh_from_db()
    assert device.assignee == leaver


def test_cockpit_create_for_a_leaver_shows_a_warning(cockpit_client, org, leaver):
    response = cockpit_client.post(f"/o/{org.slug}/pre-assignments/new/",
                                   {"serial_number": "C02LEA", "employee": leaver.email, "ownership": "corporate"})
    assert response.status_code == 302, response.content.decode()[:2000]
    messages = [(m.level_tag, str(m)) for m in response.wsgi_request._messages]
    assert ("warning", LEA_WHY) in messages
    assert any(level == "success" for level, _ in messages)
    assert PreAssignment.objects.get().employee == leaver


def test_the_openapi_schema_describes_the_warnings(client):
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)
    components = schema["components"]["schemas"]
    created = schema["paths"]["/api/v1/pre-assignments/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "warnings" in components[ref]["properties"]
    patched = schema["paths"]["/api/v1/pre-assignments/{id}/"]["patch"]["responses"]["200"]
    assert patched["content"]["application/json"]["schema"]["$ref"].endswith(f"/{ref}")
    imported = schema["paths"]["/api/v1/pre-assignments/import/"]["post"]["responses"]
    for code in ("200", "201"):
        answer = imported[code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        properties = components[answer]["properties"]
        assert {"warnings", "rows", "result", "counts"} <= set(properties)
        warning = components[properties["warnings"]["items"]["$ref"].rsplit("/", 1)[1]]
        assert {"code", "detail", "employee", "row"} <= set(warning["properties"])
