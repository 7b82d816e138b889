"""CSV files of pre-assignments and of serial numbers: decoding, parsing and row validation (DESIGN §6).

Two steps, both without per-row queries:

* :func:`parse` turns the uploaded bytes into rows (UTF-8 with or without BOM, UTF-16 from Excel,
  ``,`` ``;`` or tab separated, CRLF, trailing empty lines), checks the header (any order, case- and
  space-insensitive names, unknown columns ignored and reported) and each row on its own (mandatory
  fields, e-mail, ownership, duplicates in the file). A file it cannot read raises :class:`CsvFileError`.
* :func:`classify` looks every row up against the organization in one query per kind of object and
  gives it its action: ``create``, ``update``, ``assign_now``, ``conflict``, ``unchanged`` or ``error``
  (and ``unassign`` / ``return_to_stock`` for the bulk moves). A row naming an employee whose offboarding
  is under way gets a warning (``row["warnings"]``): it is still committed, a person having confirmed it.

Messages name the file's line; a row is a plain dict so it can be stored between preview and commit.
"""

import csv
import gc
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy

from assignment.models import DEFAULT_DOMAIN_NAME, CsvImport, PreAssignment
from core.bulk import AnyOf
from core.errors import InvalidInput
from core.models import Employee, Group
from core.selectors import employees_leaving
from devices import rules
from devices.models import AvailabilityStatus, Device, Ownership, Usage
from devices.services import normalize_serial

# Header names as DESIGN §6 writes them; matched without case and spaces.
COLUMNS = {
    "serial_number": "Serial Number",
    "username": "User Name",
    "domain_name": "Domain Name",
    "email": "Email Address",
    "groups": "Group Name",
    "ownership": "Owned By",
}
ASSIGN_COLUMNS = list(COLUMNS)
ASSIGN_REQUIRED = ("serial_number", "username", "email", "groups")
SERIAL_COLUMNS = ["serial_number"]
TEMPLATE_HEADER = [COLUMNS[key] for key in ASSIGN_COLUMNS]
MAX_LENGTHS = {"serial_number": 100, "username": 150, "domain_name": 150, "email": 254}
OWNERSHIP_VALUES = {"corporate": Ownership.CORPORATE, "personal": Ownership.PERSONAL}


class Action:
    CREATE = "create"
    UPDATE = "update"
    ASSIGN_NOW = "assign_now"
    CONFLICT = "conflict"
    UNCHANGED = "unchanged"
    ERROR = "error"
    UNASSIGN = "unassign"
    RETURN_TO_STOCK = "return_to_stock"


ACTION_LABELS = {
    Action.CREATE: gettext_lazy("Pre-assign (device not seen yet)"),
    Action.UPDATE: gettext_lazy("Update the pre-assignment"),
    Action.ASSIGN_NOW: gettext_lazy("Assign now"),
    Action.CONFLICT: gettext_lazy("Conflict (assigned to someone else)"),
    Action.UNCHANGED: gettext_lazy("Nothing to change"),
    Action.ERROR: "Error",
    Action.UNASSIGN: "Unassign",
    Action.RETURN_TO_STOCK: gettext_lazy("Return to stock"),
}


class CsvFileError(InvalidInput):
    """The whole file is refused (unreadable, no header, too large): nothing of it is kept."""

    def __init__(self, message: str):
        super().__init__(message, field="file")


class FileTooLarge(CsvFileError):
    status = 413
    code = "too_large"


def normalize_header(title: str) -> str:
    return "".join((title or "").replace("\ufeff", "").split()).lower()


HEADER_KEYS = {normalize_header(title): key for key, title in COLUMNS.items()}


# --- decoding ----------------------------------------------------------------------------------

BINARY_SIGNATURES = {
    b"PK\x03\x04": gettext_lazy("This looks like an Excel workbook or a ZIP archive, not a CSV file: in Excel, use "
                                "File › Save As › “CSV UTF-8 (comma delimited)”."),
    b"\xd0\xcf\x11\xe0": gettext_lazy("This looks like an old Excel (.xls) workbook, not a CSV file: save it as "
                                     "“CSV UTF-8”."),
    b"%PDF": gettext_lazy("This is a PDF document, not a CSV file."),
}
CONTROL_CHARACTERS = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read with; binary or unknown encodings are refused."""
    for signature, message in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise CsvFileError(str(message))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in data[:4096]:
        head = data[:4096]
        # UTF-16 without a byte-order mark: ASCII text has a zero in every other byte.
        if head[1::2].count(0) > len(head) * 0.4:
            encoding = "utf-16-le"
        elif head[0::2].count(0) > len(head) * 0.4:
            encoding = "utf-16-be"
        else:
            raise CsvFileError(gettext("This is a binary file, not a CSV text file."))
    else:
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            gettext("The file is neither UTF-8 nor UTF-16 text (or is binary): save it as “CSV UTF-8” and upload it "
                    "again.")
        ) from exc
    if any(ch in CONTROL_CHARACTERS for ch in text[:65536]) or "\x00" in text:
        raise CsvFileError(gettext("This is a binary file, not a CSV text file."))
    return text, {"utf-8-sig": "utf-8 (BOM)"}.get(encoding, encoding)


def sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# --- parsing -----------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    encoding: str
    delimiter: str
    header: list[str]
    ignored_columns: list[str]
    rows: list[dict] = field(default_factory=list)


@contextmanager
def gc_paused():
    """Building 100,000 row dicts would trigger the cyclic garbage collector over and over (each pass walks every
    row built so far): rows hold no cycles, so collection waits until they are built (3× faster parsing)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(data: bytes, *, kind: str, max_rows: int) -> ParsedFile:
    """Read the file into validated rows (``{"line", "cells", "errors", ...}``), or raise :class:`CsvFileError`."""
    with gc_paused():
        return _parse(data, kind=kind, max_rows=max_rows)


def _parse(data: bytes, *, kind: str, max_rows: int) -> ParsedFile:
    text, encoding = decode(data)
    if not text.strip():
        raise CsvFileError(gettext("The file is empty: it needs a header row and at least one row."))
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    wanted = ASSIGN_COLUMNS if kind == CsvImport.Kind.ASSIGN else SERIAL_COLUMNS
    required = ASSIGN_REQUIRED if kind == CsvImport.Kind.ASSIGN else SERIAL_COLUMNS
    header, positions, ignored = None, {}, []
    rows: list[dict] = []
    first_line = {}
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # empty lines, trailing ones included
            if header is None:
                header, positions, ignored = _read_header(cells, line, wanted, required)
                continue
            if len(rows) >= max_rows:
                raise CsvFileError(
                    gettext("The file has more than %(max_rows)s rows: split it into smaller files.") % {
                        "max_rows": formats.number_format(max_rows, force_grouping=True)}
                )
            rows.append(_read_row(cells, line, header, positions, kind, first_line, delimiter))
    except csv.Error as exc:
        raise CsvFileError(gettext("Line %(line_num)s: the file is not valid CSV (%(exc)s).") % {
            "line_num": reader.line_num, "exc": exc}) from exc
    if header is None:
        raise CsvFileError(gettext("The file is empty: it needs a header row and at least one row."))
    if not rows:
        raise CsvFileError(gettext("The file has a header row but no rows."))
    return ParsedFile(encoding=encoding, delimiter=delimiter, header=header, ignored_columns=ignored, rows=rows)


def _read_header(cells, line, wanted, required):
    header = [cell.replace("\ufeff", "").strip() for cell in cells]
    positions, ignored = {}, []
    for index, title in enumerate(header):
        key = HEADER_KEYS.get(normalize_header(title))
        if key is None or key not in wanted:
            if title:
                ignored.append(title)
            continue
        if key in positions:
            raise CsvFileError(gettext("Line %(line)s: the column “%(column)s” appears twice in the header.") % {
                "line": line, "column": COLUMNS[key]})
        positions[key] = index
    missing = [COLUMNS[key] for key in required if key not in positions]
    if missing and not positions:
        expected = ", ".join(COLUMNS[key] for key in required)
        raise CsvFileError(
            gettext("Line %(line)s: the header row is missing. The first line must name the columns "
                    "(%(columns)s); download the template.") % {
                "line": line, "columns": expected + (", Domain Name, Owned By" if len(wanted) > 1 else "")}
        )
    if missing:
        raise CsvFileError(gettext("Line %(line)s: the header lacks the mandatory column(s): %(columns)s.") % {
            "line": line, "columns": ', '.join(missing)})
    return header, positions, ignored


def _read_row(cells, line, header, positions, kind, first_line, delimiter) -> dict:
    row = {"line": line, "cells": cells, "errors": [], "notes": []}
    extra = [cell for cell in cells[len(header):] if cell.strip()]
    if extra:
        row["errors"].append(
            gettext("%(values)s values for %(columns)s columns: a value containing “%(separator)s” must be "
                    "quoted.") % {"values": len(cells), "columns": len(header),
                                  "separator": gettext("tab") if delimiter == "\t" else delimiter}
        )

    def get(key):
        index = positions.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    serial = normalize_serial(get("serial_number"))
    row["serial"] = serial
    if not serial:
        row["errors"].append(gettext("Serial Number is empty."))
    elif serial in first_line:
        row["errors"].append(
            gettext("The serial number %(serial)s appears twice in the file (first on line %(first_line)s).") % {
                "serial": serial, "first_line": first_line[serial]}
        )
    else:
        first_line[serial] = line
    if kind == CsvImport.Kind.ASSIGN:
        _read_assignment(row, get)
    for key, limit in MAX_LENGTHS.items():
        value = row.get({"serial_number": "serial", "domain_name": "domain"}.get(key, key)) or ""
        if len(value) > limit:
            row["errors"].append(gettext("%(column)s is longer than %(limit)s characters.") % {
                "column": COLUMNS[key], "limit": limit})
    row["parse_errors"] = row.pop("errors")
    return row


# Django's own e-mail rules, with its lazily compiled pattern compiled once and each domain checked once:
# on 100,000 rows the validator's lazy-object indirection alone costs seconds.
_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)


@lru_cache(maxsize=4096)
def _valid_email_domain(domain: str) -> bool:
    try:
        validate_email(f"user@{domain}")
    except ValidationError:
        return False
    return True


def is_valid_email(value: str) -> bool:
    if len(value) > 320 or "@" not in value:
        return False
    user, domain = value.rsplit("@", 1)
    return bool(_EMAIL_USER.match(user)) and _valid_email_domain(domain)


def _read_assignment(row: dict, get) -> None:
    errors = row["errors"]
    row["username"] = get("username")
    if not row["username"]:
        errors.append(gettext("User Name is empty."))
    email = get("email").lower()
    row["email"] = email
    if not email:
        errors.append(gettext("Email Address is empty."))
    else:
        if not is_valid_email(email):
            errors.append(gettext("“%(email)s” is not a valid e-mail address.") % {"email": email})
    row["domain"] = get("domain_name") or DEFAULT_DOMAIN_NAME
    owned = get("ownership").lower() or Ownership.CORPORATE
    row["ownership"] = OWNERSHIP_VALUES.get(owned, "")
    if not row["ownership"]:
        errors.append(gettext("Owned By “%(value)s” is not valid: use Corporate or Personal.") % {
            "value": get("ownership")})
    groups = [name.strip() for name in get("groups").split("/") if name.strip()]
    row["groups"] = list(dict.fromkeys(groups))
    if not groups:
        errors.append(gettext("Group Name is empty: every row names at least one group (several separated by “/”)."))


# --- classification against the organization (bulk) --------------------------------------------------------


def _lookups(organization, rows: list[dict], kind: str) -> dict:
    """What the rows name, one query per kind whatever their number (``core.bulk.AnyOf``), as plain values."""
    serials = list({row["serial"] for row in rows if row["serial"]})
    devices = {
        device["serial_number"]: device
        for device in Device.objects.for_org(organization).filter(AnyOf("serial_number", serials))
        .values("pk", "serial_number", "assignee_id", "assignee__email", "availability_status", "usage")
    }
    found = {"devices": devices}
    if kind != CsvImport.Kind.ASSIGN:
        return found
    emails = list({row["email"] for row in rows if row.get("email")})
    employees = {
        employee["lowered"]: employee
        for employee in Employee.objects.for_org(organization).annotate(lowered=Lower("email"))
        .filter(AnyOf("lowered", emails))
        .values("pk", "lowered", "email", "status", "username", "domain_name", "full_name")
    }
    leaving = employees_leaving(organization=organization) if employees else {}  # open offboardings: a handful
    active, active_by_pk = {}, {}
    for pa in (
        PreAssignment.objects.for_org(organization).filter(AnyOf("serial_number", serials),
                                                           status__in=PreAssignment.ACTIVE)
        .values("pk", "serial_number", "employee__email", "status", "domain_name", "ownership")
    ):
        pa["groups"] = []
        active[pa["serial_number"]] = active_by_pk[pa["pk"]] = pa
    if active_by_pk:  # their groups, by a join on the same filter rather than a list of ids
        for pk, name in PreAssignment.groups.through.objects.filter(
            AnyOf("preassignment__serial_number", serials), preassignment__organization=organization,
            preassignment__status__in=PreAssignment.ACTIVE,
        ).values_list("preassignment_id", "group__name"):
            active_by_pk[pk]["groups"].append(name)
    groups = {group.name.lower(): group for group in Group.objects.for_org(organization)}
    return found | {"employees": employees, "active": active, "groups": groups, "leaving": leaving}


def classify(organization, rows: list[dict], kind: str) -> dict:
    """Set each row's ``action`` (and what the commit needs: ids, canonical group names) in place. Returns what it
    looked up (``devices`` by serial; for assignments ``employees`` by lowered e-mail, ``groups`` by lowered name…)."""
    found = _lookups(organization, rows, kind)
    for row in rows:
        row["errors"] = list(row["parse_errors"])
        row["notes"] = []
        row["warnings"] = []
        if kind == CsvImport.Kind.ASSIGN:
            _classify_assignment(row, found)
        else:
            _classify_move(row, found, kind)
        if row["errors"]:
            row["action"] = Action.ERROR
            row["warnings"] = []  # the row is not imported: its errors say what to fix
    return found


def _classify_assignment(row: dict, found: dict) -> None:
    errors, notes = row["errors"], row["notes"]
    row.pop("new_employee", None)
    missing = [name for name in row["groups"] if name.lower() not in found["groups"]]
    if missing:
        errors.append(gettext("Unknown group: %(groups)s (create it first).") % {"groups": ', '.join(missing)})
    else:
        row["groups"] = [found["groups"][name.lower()].name for name in row["groups"]]
    employee = found["employees"].get(row["email"]) if row["email"] else None
    if employee is None and row["email"] and not errors:
        row["new_employee"] = True
        notes.append(gettext("New employee %(email)s will be created.") % {"email": row['email']})
    elif employee is not None and employee["status"] != Employee.Status.ACTIVE:
        errors.append(gettext("%(email)s has been offboarded and cannot receive devices.") % {"email": row["email"]})
    elif employee is not None and (employee["username"], employee["domain_name"]) != (row["username"], row["domain"]):
        notes.append(gettext("The employee's directory login stays %(domain)s\\%(username)s (the file says "
                             "%(file_domain)s\\%(file_username)s).") % {
            "domain": employee["domain_name"] or "—", "username": employee["username"] or "—",
            "file_domain": row["domain"], "file_username": row["username"]})
    if errors:
        return
    row["employee_id"] = employee["pk"] if employee else None
    why = found["leaving"].get(employee["pk"]) if employee else None
    if why is not None:
        row["warnings"].append(rules.leaving_warning(
            employee_id=employee["pk"], name=employee["full_name"] or row["email"], why=why))
    device = found["devices"].get(row["serial"])
    active = found["active"].get(row["serial"])
    row["device_id"] = device["pk"] if device else None
    if active is not None and active["employee__email"].lower() != row["email"]:
        errors.append(
            gettext("The serial number %(serial)s is already pre-assigned to %(email)s (%(status)s); cancel that "
                    "pre-assignment first.") % {"serial": row["serial"], "email": active["employee__email"],
                                                "status": PreAssignment.Status(active["status"]).label.lower()}
        )
        return
    if device is not None and device["availability_status"] == AvailabilityStatus.ARCHIVED:
        errors.append(gettext("The device %(serial)s is archived: restore it before assigning it.") % {
            "serial": row['serial']})
        return
    if device is not None and device["assignee_id"] is not None:
        if device["assignee__email"].lower() == row["email"]:
            row["action"] = Action.UNCHANGED
            notes.append(gettext("Already assigned to %(email)s.") % {"email": row['email']})
        elif active is not None:
            row["action"] = Action.UNCHANGED
            notes.append(gettext("Already a conflict with the current owner %(email)s, to settle.") % {
                "email": device["assignee__email"]})
        else:
            row["action"] = Action.CONFLICT
            row["conflict_note"] = gettext("The device is assigned to %(email)s.") % {
                "email": device["assignee__email"]}
            notes.append(gettext("Assigned to %(email)s: an admin settles the conflict.") % {
                "email": device["assignee__email"]})
        return
    if active is not None:
        row["pre_assignment_id"] = active["pk"]
        same = (
            sorted(active["groups"]) == sorted(row["groups"])
            and active["domain_name"] == row["domain"] and active["ownership"] == row["ownership"]
        )
        if device is not None:
            row["action"] = Action.ASSIGN_NOW
            notes.append(gettext("The device is here and unassigned: assigned at commit."))
        else:
            row["action"] = Action.UNCHANGED if same else Action.UPDATE
            if same:
                notes.append(gettext("Already pre-assigned, waiting for the device."))
        return
    if device is not None and device["usage"] == Usage.SHARED:
        row["action"] = Action.CONFLICT
        row["conflict_note"] = gettext("The device is shared: it has a responsible technician, not an owner.")
        notes.append(gettext("A shared device has a responsible technician, not an owner: an admin settles it."))
        return
    row["action"] = Action.ASSIGN_NOW if device is not None else Action.CREATE


def _classify_move(row: dict, found: dict, kind: str) -> None:
    device = found["devices"].get(row["serial"])
    if row["errors"]:
        return
    if device is None:
        row["errors"].append(gettext("No device with the serial number %(serial)s.") % {"serial": row['serial']})
        return
    row["device_id"] = device["pk"]
    if device["availability_status"] == AvailabilityStatus.ARCHIVED:
        row["errors"].append(gettext("The device %(serial)s is archived.") % {"serial": row['serial']})
        return
    owner = device["assignee__email"]
    if kind == CsvImport.Kind.UNASSIGN:
        if owner is None:
            row["action"] = Action.UNCHANGED
            row["notes"].append(gettext("Not assigned to anyone."))
        else:
            row["action"] = Action.UNASSIGN
            row["notes"].append(gettext("Currently assigned to %(owner)s.") % {"owner": owner})
    elif device["availability_status"] == AvailabilityStatus.IN_STOCK:
        row["action"] = Action.UNCHANGED
        row["notes"].append(gettext("Already in stock."))
    else:
        row["action"] = Action.RETURN_TO_STOCK
        if owner:
            row["notes"].append(gettext("Currently assigned to %(owner)s.") % {"owner": owner})


def count_actions(rows: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for row in rows:
        action = row.get("action")
        if action:
            counts[action] = counts.get(action, 0) + 1
    counts["new_employees"] = len({row["email"] for row in rows if row.get("new_employee") and not row["errors"]})
    return counts


def row_warnings(rows: list[dict], limit: int | None = None) -> list[dict]:
    """The rows' warnings as the API answers them: ``{"code", "detail", "employee", "row"}`` (the file's line)."""
    found = []
    for row in rows:
        for warning in row.get("warnings") or ():
            if limit is not None and len(found) >= limit:
                return found
            found.append({**warning, "row": row["line"], "serial_number": row["serial"]})
    return found


def row_message(row: dict) -> str:
    """``line 4: …`` as the command, the API and the rejected-rows file write it."""
    return f"line {row['line']}: " + " ".join(row["errors"])
