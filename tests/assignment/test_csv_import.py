"""The pre-assignment CSV (DESIGN §6): every rule, every bad input, preview, commit, idempotence."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from assignment import services
from assignment.csv_import import CsvFileError, FileTooLarge, parse
from assignment.models import CsvImport, PreAssignment
from assignment.services import csv_imports
from core.errors import ConcurrentChange, IllegalTransition, InvalidInput
from core.models import AuditEvent, Employee
from devices import services as device_services
from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

HEADER = "Serial Number,User Name,Domain Name,Email Address,Group Name,Owned By"


@pytest.fixture
def groups(org):
    return [GroupFactory(organization=org, name=name) for name in ("Engineering", "Sales", "Paris Office")]


def start(org, actor, text, kind=CsvImport.Kind.ASSIGN, encoding="utf-8", **kwargs):
    data = text.encode(encoding) if isinstance(text, str) else text
    return services.csv_import_start(organization=org, actor=actor, data=data, filename="t.csv", kind=kind, **kwargs)


def by_line(record):
    return {row["line"]: row for row in record.rows}


def parsed(text, kind=CsvImport.Kind.ASSIGN, max_rows=100):
    data = text.encode() if isinstance(text, str) else text
    return parse(data, kind=kind, max_rows=max_rows)


# --- the rules of the format ---------------------------------------------------------------------------------


def test_header_any_order_case_and_space_insensitive(org, actor, groups, employee):
    record = start(org, actor, "  email ADDRESS ,GROUPNAME,serial number,User  Name\n"
                               "ada@acme.test,Engineering,c02new001,ada\n")
    row = record.rows[0]
    assert row["action"] == "create", row
    assert (row["serial"], row["email"], row["groups"], row["username"]) == ("C02NEW001", "ada@acme.test",
                                                                            ["Engineering"], "ada")
    assert (row["domain"], row["ownership"]) == ("MDM", "corporate")  # the defaults
    assert record.ignored_columns == []


@pytest.mark.parametrize("missing", ["Serial Number", "User Name", "Email Address", "Group Name"])
def test_each_mandatory_column_is_required_in_the_header(org, actor, groups, missing):
    columns = [c for c in ["Serial Number", "User Name", "Email Address", "Group Name"] if c != missing]
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, ",".join(columns) + "\n" + ",".join("x" for _ in columns) + "\n")
    assert caught.value.message == f"Line 1: the header lacks the mandatory column(s): {missing}."
    assert not CsvImport.objects.exists()


def test_missing_header_row(org, actor, groups):
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, "C02X1,ada,MDM,ada@acme.test,Engineering,Corporate\n")
    assert caught.value.message.startswith("Line 1: the header row is missing. The first line must name the columns")
    assert "download the template" in caught.value.message


@pytest.mark.parametrize("field,value,message", [
    ("serial", "", "Serial Number is empty."),
    ("user", "", "User Name is empty."),
    ("email", "", "Email Address is empty."),
    ("email", "not-an-email", "“not-an-email” is not a valid e-mail address."),
    ("group", "", "Group Name is empty: every row names at least one group (several separated by “/”)."),
    ("group", "Engineering/Nope", "Unknown group: Nope (create it first)."),
    ("owned", "Leased", "Owned By “Leased” is not valid: use Corporate or Personal."),
    ("serial", "X" * 101, "Serial Number is longer than 100 characters."),
])
def test_bad_values_give_a_line_numbered_message(org, actor, groups, field, value, message):
    values = {"serial": "C02OK0001", "user": "ada", "email": "ada@acme.test", "group": "Engineering",
              "owned": "Corporate"} | {field: value}
    text = (f"{HEADER}\nC02GOOD01,bob,MDM,bob@acme.test,Sales,Personal\n"
            f"{values['serial']},{values['user']},,{values['email']},{values['group']},{values['owned']}\n")
    record = start(org, actor, text)
    rows = by_line(record)
    assert rows[2]["action"] == "create"
    assert rows[3]["action"] == "error"
    assert rows[3]["errors"] == [message]
    assert record.counts["error"] == 1


def test_several_groups_quoted_values_empty_fields_and_ownership(org, actor, groups):
    text = (f"{HEADER}\n"
            'C02A,ada,,ada@acme.test,"Engineering / paris office",personal\n'
            '"C02B","Doe, John",CORP,john@acme.test,Sales,\n')
    record = start(org, actor, text)
    a, b = record.rows
    assert a["groups"] == ["Engineering", "Paris Office"]  # canonical names, case-insensitive match
    assert (a["domain"], a["ownership"]) == ("MDM", "personal")
    assert (b["username"], b["domain"], b["ownership"]) == ("Doe, John", "CORP", "corporate")
    assert {a["action"], b["action"]} == {"create"}


def test_unknown_columns_are_ignored_and_reported(org, actor, groups):
    record = start(org, actor, f"{HEADER},Asset Tag,Notes\nC02A,ada,,ada@acme.test,Sales,,T-1,hello\n")
    assert record.ignored_columns == ["Asset Tag", "Notes"]
    assert record.rows[0]["action"] == "create"


def test_too_many_values_on_a_line(org, actor, groups):
    record = start(org, actor, f"{HEADER}\nC02A,Doe, John,,ada@acme.test,Sales,Corporate\n")
    assert record.rows[0]["errors"][0] == "7 values for 6 columns: a value containing “,” must be quoted."


def test_a_french_reader_gets_the_rows_errors_in_french(org, actor, groups):
    with translation.override("fr"):
        record = start(org, actor, f"{HEADER}\nC02A,Doe, John,,ada@acme.test,Sales,Corporate\n"
                                   f"{'X' * 101},ada,,not-an-email,Sales,\n")
        tabbed = parse(b"Serial Number\tUser Name\tEmail Address\tGroup Name\nC02T\tada\ta@acme.test\tSales\textra\n",
                       kind="assign", max_rows=10)
    rows = by_line(record)
    assert rows[2]["errors"][0] == "7 valeurs pour 6 colonnes : une valeur contenant « , » doit être entre guillemets."
    assert rows[3]["errors"] == ["« not-an-email » n’est pas une adresse e-mail valide.",
                                 "Serial Number dépasse 100 caractères."]
    assert tabbed.rows[0]["parse_errors"][0].endswith("« tabulation » doit être entre guillemets.")


def test_duplicate_serials_in_one_file(org, actor, groups):
    record = start(org, actor, f"{HEADER}\nC02A,ada,,ada@acme.test,Sales,\nC02B,bob,,bob@acme.test,Sales,\n"
                               f"c02a ,bob,,bob@acme.test,Sales,\n")
    rows = by_line(record)
    assert rows[2]["action"] == "create" and rows[3]["action"] == "create"
    assert rows[4]["errors"] == ["The serial number C02A appears twice in the file (first on line 2)."]


def test_unknown_email_creates_the_employee_shown_in_the_preview(org, actor, groups):
    record = start(org, actor, f"{HEADER}\nC02A,newbie,CORP,New.Bie@acme.test,Sales,\n"
                               "C02B,newbie,,new.bie@acme.test,Sales,\n")
    assert all(row["new_employee"] for row in record.rows)
    assert "New employee new.bie@acme.test will be created." in record.rows[0]["notes"]
    assert record.counts["new_employees"] == 1
    assert not Employee.objects.filter(email="new.bie@acme.test").exists()  # the preview changes nothing

    services.csv_import_commit(csv_import=record, actor=actor)

    newbie = Employee.objects.get(organization=org, email="new.bie@acme.test")
    assert (newbie.username, newbie.domain_name) == ("newbie", "CORP")
    assert AuditEvent.objects.filter(event="employee.created", target_id=str(newbie.pk), source="csv_import").exists()
    assert PreAssignment.objects.filter(employee=newbie).count() == 2


def test_an_offboarded_employee_is_an_error(org, actor, groups):
    EmployeeFactory(organization=org, email="gone@acme.test", status=Employee.Status.OFFBOARDED)
    record = start(org, actor, f"{HEADER}\nC02A,gone,,gone@acme.test,Sales,\n")
    assert record.rows[0]["errors"] == ["gone@acme.test has been offboarded and cannot receive devices."]


# --- encodings and file shapes ---------------------------------------------------------------------------------

ROWS = ["Serial Number;User Name;Email Address;Group Name", "C02É1;zoé;zoe@acme.test;Sales",
        "C02E2;ada;ada@acme.test;Sales"]


@pytest.mark.parametrize("encoding,bom,sep,newline", [
    ("utf-8", b"", ",", "\n"),
    ("utf-8", b"\xef\xbb\xbf", ",", "\r\n"),
    ("utf-8", b"", ";", "\r\n"),
    ("utf-16-le", b"\xff\xfe", "\t", "\r\n"),  # Excel's “Unicode text”
    ("utf-16-be", b"\xfe\xff", ",", "\n"),
    ("utf-16-le", b"", ";", "\r\n"),  # UTF-16 without a byte-order mark
])
def test_encodings_separators_and_line_ends(org, actor, groups, encoding, bom, sep, newline):
    text = newline.join(line.replace(";", sep) for line in ROWS) + newline + newline + newline  # trailing empties
    record = start(org, actor, bom + text.encode(encoding))
    assert [row["serial"] for row in record.rows] == ["C02É1", "C02E2"]
    assert [row["line"] for row in record.rows] == [2, 3]
    assert record.rows[0]["username"] == "zoé"
    assert {row["action"] for row in record.rows} == {"create"}


def test_a_quoted_value_over_two_lines_keeps_line_numbers(org, actor, groups):
    record = start(org, actor, f'{HEADER},Notes\nC02A,ada,,ada@acme.test,Sales,,"two\nlines"\nC02B,,,,Sales,,\n')
    assert [row["line"] for row in record.rows] == [2, 4]
    assert record.rows[1]["errors"][0] == "User Name is empty."


@pytest.mark.parametrize("data,message", [
    (b"\x00\x01\x02\x03binary\xff\xfe\x00garbage" * 10, "This is a binary file, not a CSV text file."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is a binary file, not a CSV text file."),
    (b"PK\x03\x04\x14\x00\x06\x00", "This looks like an Excel workbook or a ZIP archive"),
    ("Serial Number,User Name\nC02,é".encode("latin-1"), "The file is neither UTF-8 nor UTF-16 text"),
    (b"", "The file is empty"),
    (b"\n\r\n  \n", "The file is empty"),
    (HEADER.encode() + b"\n\n", "The file has a header row but no rows."),
])
def test_unreadable_files_are_refused_clearly(org, actor, groups, data, message):
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, data)
    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.field == "file"
    assert not CsvImport.objects.exists()


def test_row_limit(org, actor, groups, settings):
    settings.ASSIGNMENT_CSV_MAX_ROWS = 3
    text = HEADER + "\n" + "".join(f"C02{n},u,,u{n}@acme.test,Sales,\n" for n in range(4))
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, text)
    assert caught.value.message == "The file has more than 3 rows: split it into smaller files."
    three = HEADER + "\n" + "".join(f"C02{n},u,,u{n}@acme.test,Sales,\n" for n in range(3))
    assert start(org, actor, three).row_count == 3


def test_size_limit(org, actor, groups, settings):
    settings.ASSIGNMENT_CSV_MAX_BYTES = 100
    with pytest.raises(FileTooLarge) as caught:
        start(org, actor, HEADER + "\n" + "C02A,ada,,ada@acme.test,Sales,\n" * 5)
    assert caught.value.status == 413
    assert caught.value.message == (
        "The file is too large (225\xa0bytes): the limit is 100\xa0bytes. Split it into smaller files.")


def test_duplicate_header_column(org, actor, groups):
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, "Serial Number,User Name,Email Address,Group Name,serialnumber\n")
    assert caught.value.message == "Line 1: the column “Serial Number” appears twice in the header."


def test_parse_alone_needs_no_database():
    result = parsed(f"{HEADER}\nC02A,ada,,ada@acme.test,Sales,\n")
    assert result.delimiter == "," and result.rows[0]["serial"] == "C02A"


# --- actions against the inventory --------------------------------------------------------------------------------


def test_actions_create_update_assign_now_conflict_unchanged(org, actor, groups, employee):
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    DeviceFactory(organization=org, serial_number="C02HERE")
    taken = DeviceFactory(organization=org, serial_number="C02TAKEN")
    device_services.device_assign(device=taken, employee=grace, actor=actor)
    services.pre_assignment_create(organization=org, actor=actor, serial_number="C02WAIT", employee=employee,
                                   groups=["Sales"])
    services.pre_assignment_create(organization=org, actor=actor, serial_number="C02SAME", employee=employee,
                                   groups=["Sales"])
    services.pre_assignment_create(organization=org, actor=actor, serial_number="C02OTHER", employee=grace,
                                   groups=["Sales"])
    text = (f"{HEADER}\n"
            "C02NEW,ada,,ada@acme.test,Sales,\n"
            "C02WAIT,ada,,ada@acme.test,Engineering,\n"
            "C02HERE,ada,,ada@acme.test,Sales,Personal\n"
            "C02TAKEN,ada,,ada@acme.test,Sales,\n"
            "C02SAME,ada,,ada@acme.test,Sales,\n"
            "C02OTHER,ada,,ada@acme.test,Sales,\n")
    record = start(org, actor, text)
    actions = {row["serial"]: row["action"] for row in record.rows}
    assert actions == {"C02NEW": "create", "C02WAIT": "update", "C02HERE": "assign_now", "C02TAKEN": "conflict",
                       "C02SAME": "unchanged", "C02OTHER": "error"}
    assert by_line(record)[7]["errors"] == [
        "The serial number C02OTHER is already pre-assigned to grace@acme.test (waiting); cancel that pre-assignment "
        "first."]

    with pytest.raises(InvalidInput) as caught:  # a row in error blocks the commit…
        services.csv_import_commit(csv_import=record, actor=actor)
    assert "1 row(s) are in error (first: line 7:" in caught.value.message
    assert PreAssignment.objects.filter(serial_number="C02NEW").count() == 0

    result = services.csv_import_commit(csv_import=record, actor=actor, skip_errors=True)  # …unless skipped

    assert result == {"created": 1, "updated": 1, "assigned": 1, "conflicts": 1, "new_employees": 0, "skipped": 1}
    here = Device.objects.get(serial_number="C02HERE")
    assert (here.assignee, here.ownership, [g.name for g in here.groups.all()]) == (employee, "personal", ["Sales"])
    assert here.history.first().source == "csv_import"
    wait = PreAssignment.objects.get(serial_number="C02WAIT", status="waiting")
    assert [g.name for g in wait.groups.all()] == ["Engineering"]
    conflict = PreAssignment.objects.get(serial_number="C02TAKEN")
    assert conflict.status == "conflict" and conflict.device.assignee == grace  # never a silent reassignment
    assert PreAssignment.objects.get(serial_number="C02OTHER").employee == grace
    record.refresh_from_db()
    assert record.status == "committed" and record.skipped_errors
    assert AuditEvent.objects.filter(event="csv_import.committed", target_id=str(record.pk)).exists()

    with pytest.raises(IllegalTransition):
        services.csv_import_commit(csv_import=record, actor=actor)


def test_a_second_identical_upload_changes_nothing(org, actor, groups, employee):
    DeviceFactory(organization=org, serial_number="C02HERE")
    taken = DeviceFactory(organization=org, serial_number="C02TAKEN")
    device_services.device_assign(device=taken, employee=EmployeeFactory(organization=org), actor=actor)
    text = (f"{HEADER}\nC02NEW,ada,,ada@acme.test,Sales,\nC02HERE,ada,,ada@acme.test,Sales/Engineering,\n"
            "C02TAKEN,ada,,ada@acme.test,Sales,\nC02NEWBIE,nb,,newbie@acme.test,Sales,\n")
    services.csv_import_commit(csv_import=start(org, actor, text), actor=actor)
    snapshot = (list(PreAssignment.objects.values_list("serial_number", "status", "employee__email", "updated_at")),
                list(Device.objects.values_list("serial_number", "assignee_id", "version")),
                Employee.objects.count())
    audits = AuditEvent.objects.exclude(event="csv_import.committed").count()

    again = start(org, actor, text)
    assert {row["action"] for row in again.rows} == {"unchanged"}
    result = services.csv_import_commit(csv_import=again, actor=actor)

    assert result == {"created": 0, "updated": 0, "assigned": 0, "conflicts": 0, "new_employees": 0, "skipped": 0}
    assert snapshot == (
        list(PreAssignment.objects.values_list("serial_number", "status", "employee__email", "updated_at")),
        list(Device.objects.values_list("serial_number", "assignee_id", "version")),
        Employee.objects.count(),
    )
    assert AuditEvent.objects.exclude(event="csv_import.committed").count() == audits


def test_commit_is_all_or_nothing(org, actor, groups, employee, monkeypatch):
    DeviceFactory(organization=org, serial_number="C02HERE")
    text = (f"{HEADER}\nC02NEW1,ada,,ada@acme.test,Sales,\nC02NEW2,nb,,newbie@acme.test,Sales,\n"
            "C02HERE,ada,,ada@acme.test,Sales,\n")
    record = start(org, actor, text)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("assignment.services.csv_import_writes.device_services.device_assign_many", broken)
    with pytest.raises(RuntimeError):
        services.csv_import_commit(csv_import=record, actor=actor)

    assert not PreAssignment.objects.exists()
    assert not Employee.objects.filter(email="newbie@acme.test").exists()
    assert Device.objects.get(serial_number="C02HERE").assignee is None
    record.refresh_from_db()
    assert record.status == "previewed"


def test_a_change_since_the_preview_stops_the_commit(org, actor, groups, employee):
    device = DeviceFactory(organization=org, serial_number="C02HERE")
    record = start(org, actor, f"{HEADER}\nC02NEW,ada,,ada@acme.test,Sales,\nC02HERE,ada,,ada@acme.test,Sales,\n")
    device_services.device_assign(device=device, employee=EmployeeFactory(organization=org), actor=actor)

    with pytest.raises(ConcurrentChange) as caught:
        services.csv_import_commit(csv_import=record, actor=actor)

    assert "line 3 was “assign_now”, now “conflict”" in caught.value.message
    assert not PreAssignment.objects.exists()


def test_preview_and_commit_queries_do_not_grow_with_rows(org, actor, groups, employee):
    def run(n):
        text = HEADER + "\n" + "".join(f"C02Q{n}X{i},u{i},,user{n}x{i}@acme.test,Sales/Engineering,\n"
                                       for i in range(n))
        with CaptureQueriesContext(connection) as preview:
            record = start(org, actor, text)
        with CaptureQueriesContext(connection) as commit:
            services.csv_import_commit(csv_import=record, actor=actor)
        return len(preview), len(commit)

    small, large = run(5), run(40)  # within one SQLite statement (999 parameters: 40 rows of 17 columns)
    assert small == large, (small, large)


def test_rows_in_error_are_read_only_when_the_finished_analysis_counted_some(org, actor, groups):
    clean = CsvImport.objects.get(pk=start(org, actor, f"{HEADER}\nC02ONE,ada,,ada@acme.test,Sales,\n").pk)
    with CaptureQueriesContext(connection) as queries:
        assert csv_imports._error_rows(clean) == [] and csv_imports._error_count(clean) == 0
    assert len(queries) == 0  # its counts say none: no scan of the stored rows
    bad = start(org, actor, f"{HEADER}\nC02ONE,ada,,ada@acme.test,Sales,\nC02TWO,bob,,bob@acme.test,Nope,\n")
    stored = CsvImport.objects.get(pk=bad.pk)
    assert [row["line"] for row in csv_imports._error_rows(stored)] == [3] and csv_imports._error_count(stored) == 1
    CsvImport.objects.filter(pk=bad.pk).update(counts={})  # no finished analysis's counts: the rows are read
    stored = CsvImport.objects.get(pk=bad.pk)
    assert csv_imports._error_count(stored) == 1 and len(csv_imports._error_rows(stored)) == 1


# --- bulk unassign / return to stock ------------------------------------------------------------------------------


def test_bulk_unassign_and_return_to_stock(org, actor, employee):
    a, b, c = (DeviceFactory(organization=org, serial_number=s) for s in ("C02U1", "C02U2", "C02U3"))
    for device in (a, b):
        device_services.device_assign(device=device, employee=employee, actor=actor)
    text = "serial number,Comment\nc02u1,x\nC02U3,\nC02NOPE,\nC02U1,\n"
    record = start(org, actor, text, kind=CsvImport.Kind.UNASSIGN)
    rows = by_line(record)
    assert record.ignored_columns == ["Comment"]
    assert [rows[n]["action"] for n in (2, 3, 4, 5)] == ["unassign", "unchanged", "error", "error"]
    assert rows[4]["errors"] == ["No device with the serial number C02NOPE."]
    assert rows[5]["errors"] == ["The serial number C02U1 appears twice in the file (first on line 2)."]
    result = services.csv_import_commit(csv_import=record, actor=actor, skip_errors=True, wipe=True)
    assert result == {"unassigned": 1, "skipped": 2}
    a.refresh_from_db()
    assert (a.assignee, a.assignment_status, a.availability_status) == (None, "to_assign", "in_use")
    assert a.history.first().wipe_requested and a.history.first().source == "csv_import"

    stock = start(org, actor, "Serial Number\nC02U1\nC02U2\nC02U3\n", kind=CsvImport.Kind.RETURN_TO_STOCK)
    assert [row["action"] for row in stock.rows] == ["return_to_stock", "return_to_stock", "unchanged"]
    assert services.csv_import_commit(csv_import=stock, actor=actor) == {"returned_to_stock": 2, "skipped": 0}
    assert set(Device.objects.values_list("availability_status", flat=True)) == {"in_stock"}
    again = start(org, actor, "Serial Number\nC02U1\nC02U2\n", kind=CsvImport.Kind.RETURN_TO_STOCK)
    assert {row["action"] for row in again.rows} == {"unchanged"}


def test_serial_file_without_serial_column(org, actor):
    with pytest.raises(CsvFileError) as caught:
        start(org, actor, "C02U1\nC02U2\n", kind=CsvImport.Kind.UNASSIGN)
    assert caught.value.message.startswith("Line 1: the header row is missing.")


def test_imports_are_tenant_scoped(org, other_org, actor, groups):
    GroupFactory(organization=other_org, name="Globex Only")
    DeviceFactory(organization=other_org, serial_number="C02GLOBEX")
    EmployeeFactory(organization=other_org, email="bob@globex.test")
    record = start(org, actor, f"{HEADER}\nC02GLOBEX,bob,,bob@globex.test,Globex Only,\n"
                               "C02GLOBEX2,bob,,bob@globex.test,Sales,\n")
    rows = by_line(record)
    assert rows[2]["errors"] == ["Unknown group: Globex Only (create it first)."]
    assert rows[3]["action"] == "create" and rows[3]["new_employee"]  # Globex's Bob is not Acme's
    services.csv_import_commit(csv_import=record, actor=actor, skip_errors=True)
    assert Employee.objects.filter(email="bob@globex.test").count() == 2
    assert Device.objects.get(serial_number="C02GLOBEX").assignee is None


def test_a_file_of_100000_rows_is_read_and_one_more_is_refused():
    rows = "".join(f"C02{n:06d},u{n},,u{n}@acme.test,Sales,\n" for n in range(100_000))
    result = parse((HEADER + "\n" + rows).encode(), kind=CsvImport.Kind.ASSIGN, max_rows=100_000)
    assert len(result.rows) == 100_000 and result.rows[-1]["line"] == 100_001
    with pytest.raises(CsvFileError, match="more than 100,000 rows"):
        parse((HEADER + "\n" + rows + "C02LAST,u,,u@acme.test,Sales,\n").encode(), kind=CsvImport.Kind.ASSIGN,
              max_rows=100_000)
