"""Where the assignment app connects to the apps below it, called once from ``AssignmentConfig.ready``: its audit
events (``assignment.events``), its job kind (``assignment.jobs``), its hook steps (pre-assignment here, suggestion
in ``assignment.suggestion.wiring``) and its panels (``assignment.panels``, ``assignment.suggestion.panels``)."""

from django.utils.translation import gettext_lazy as _

from assignment.events import EVENTS, PHRASES
from assignment.jobs import csv_import_job
from assignment.panels import device_panel, employee_panel
from assignment.services import (
    CSV_IMPORT_JOB,
    pre_assignment_apply_for_device,
    pre_assignments_apply,
    pre_assignments_cancel_for_employee,
)
from assignment.suggestion.panels import device_suggestion_panel
from assignment.suggestion.wiring import after_sync_suggestions, withdraw_leaver_suggestions
from core.audit import register_events, register_phrases
from core.hooks import employee_offboarded
from core.jobs import register_job_kind
from core.panels import device_panels, employee_panels
from devices.hooks import device_created
from mdm_sync.hooks import after_sync


def apply_pre_assignments(*, organization, run, device_ids, actor) -> dict:
    """After each sync (order 10, before enrollment's automatic assignment): apply what is now applicable."""
    return pre_assignments_apply(organization=organization, actor=actor, device_ids=device_ids)


def apply_to_new_device(*, device, actor, **kwargs) -> dict:
    """A device just added by hand or by the API applies its pre-assignment at once (devices.hooks.device_created)."""
    return pre_assignment_apply_for_device(device=device, actor=actor)


def cancel_pre_assignments(*, employee, actor, **kwargs) -> dict:
    return {"pre_assignments_cancelled": pre_assignments_cancel_for_employee(employee=employee, actor=actor)}


def connect() -> None:
    register_events(EVENTS)
    register_phrases(PHRASES)
    # A large CSV import's analysis and commit (issue #12 §2); re-run safe: analysed chunks stay, a commit is whole.
    register_job_kind(CSV_IMPORT_JOB, csv_import_job, label=_("CSV import"), rerun_safe=True)
    after_sync.register(apply_pre_assignments, order=10, name="pre_assignment")
    after_sync.register(after_sync_suggestions, order=50, name="assignment.suggestions")
    employee_offboarded.register(cancel_pre_assignments, order=10, name="pre_assignment")
    employee_offboarded.register(withdraw_leaver_suggestions, order=50, name="assignment.suggestions_withdraw")
    device_created.register(apply_to_new_device, order=10, name="pre_assignment")
    device_panels.register(device_panel, order=10)
    device_panels.register(device_suggestion_panel, order=50)
    employee_panels.register(employee_panel, order=10)
