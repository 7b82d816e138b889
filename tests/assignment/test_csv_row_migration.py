"""An import's rows move from its ``rows`` JSON value to one ``CsvImportRow`` each: imports stored before the move
keep every row exactly, and going back puts them back in the JSON value."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migrations import migrate, migrate_to_newest

BEFORE = [("assignment", "0004_preassignment_note_phrase")]
AFTER = [("assignment", "0005_csvimportrow")]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROWS = [
    {"line": 2, "cells": ["C02A", "ada@acme.test"], "serial": "C02A", "email": "ada@acme.test", "groups": ["Sales"],
     "parse_errors": [], "errors": [], "notes": ["Already assigned to ada@acme.test."], "action": "unchanged",
     "warnings": [{"code": "leaving", "detail": "Ada is leaving", "employee": 7}], "employee_id": 7},
    {"line": 5, "cells": ["C02B", "é, \"quoted\"\ttab"], "serial": "C02B", "email": "bob@acme.test", "groups": [],
     "parse_errors": ["Group Name is empty."], "errors": ["Group Name is empty."], "notes": [], "action": "error",
     "warnings": []},
]
ANALYSING = [{"line": 2, "cells": ["C02C"], "serial": "C02C", "parse_errors": []}]  # not classified yet


def stored(apps, record_pk):
    Row = apps.get_model("assignment", "CsvImportRow")
    return [(row.line, row.action, row.warned, row.data) for row in Row.objects.filter(csv_import_id=record_pk)
            .order_by("line")]


def test_existing_imports_keep_their_rows_forwards_and_back():
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    migrate(BEFORE)
    try:
        org = old.get_model("cockpit", "Organization").objects.create(slug="acme", name="Acme")
        CsvImport = old.get_model("assignment", "CsvImport")
        previewed = CsvImport.objects.create(organization=org, status="previewed", source="api", created_by="t",
                                             row_count=2, processed_rows=2, rows=ROWS)
        analysing = CsvImport.objects.create(organization=org, status="analysing", source="api", created_by="t",
                                             row_count=1, rows=ANALYSING)
        empty = CsvImport.objects.create(organization=org, status="discarded", source="api", created_by="t", rows=[])
        new = migrate(AFTER)
        assert stored(new, previewed.pk) == [
            (2, "unchanged", True, {key: value for key, value in ROWS[0].items() if key != "line"}),
            (5, "error", False, {key: value for key, value in ROWS[1].items() if key != "line"}),
        ]
        assert stored(new, analysing.pk) == [(2, "", False, {"cells": ["C02C"], "serial": "C02C",
                                                              "parse_errors": []})]
        assert stored(new, empty.pk) == []
        back = migrate(BEFORE)
        rows = dict(back.get_model("assignment", "CsvImport").objects.values_list("pk", "rows"))
        assert rows == {previewed.pk: ROWS, analysing.pk: ANALYSING, empty.pk: []}
        migrate(AFTER)
    finally:
        migrate_to_newest()

    from assignment.models import CsvImport as Current  # the current model reads them as the services do

    assert Current.objects.get(pk=previewed.pk).rows == ROWS
    assert Current.objects.get(pk=previewed.pk).first_rows(10, action="error") == [ROWS[1]]
