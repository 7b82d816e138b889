"""Organization A's pre-assignment and CSV import, for the tenant isolation test."""

from assignment.models import CsvImport, CsvImportRow, PreAssignment


def objects(base) -> dict:
    org = base["org"]
    pa = PreAssignment.objects.create(
        organization=org, serial_number="C02SECRETPA", employee=base["employee"], source="manual",
        created_by="tests",
    )
    pa.groups.add(base["group"])
    record = CsvImport.objects.create(
        organization=org, kind=CsvImport.Kind.ASSIGN, status=CsvImport.Status.PREVIEWED, source="csv_import",
        filename="secret.csv", header=["Serial Number", "Email Address"], created_by="tests", row_count=1,
        processed_rows=1, counts={"error": 1},
    )
    CsvImportRow.objects.create(csv_import=record, line=2, action="error", data={
        "cells": ["C02SECRETA", "secret-a@acme.test"], "serial": "C02SECRETA", "email": "secret-a@acme.test",
        "groups": ["Secret Group A"], "action": "error", "errors": ["Acme Secret Corp"], "parse_errors": [],
        "notes": []})
    return {"preassignment": pa, "csvimport": record}
