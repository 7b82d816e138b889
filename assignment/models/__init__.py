"""The assignment app's models, one module per subdomain, imported here by name.

Django loads an app's models by importing ``<app>.models``: every model module of the app is imported
below, so the app label stays ``assignment`` and the tables keep their names (``assignment_preassignment``,
``assignment_csvimport``, ``assignment_suggestion``). A new model module is added to this list.
"""

from assignment.models.csv_imports import CsvImport, CsvImportRow
from assignment.models.pre_assignments import DEFAULT_DOMAIN_NAME, PreAssignment, PreAssignmentGroup
from assignment.suggestion.models import Suggestion

__all__ = ["DEFAULT_DOMAIN_NAME", "CsvImport", "CsvImportRow", "PreAssignment", "PreAssignmentGroup", "Suggestion"]
