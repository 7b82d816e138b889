"""Where the enrollment app connects to the apps below it, called once from ``EnrollmentConfig.ready``: its audit
events, automatic assignment after each sync, the invitation on employee creation, and its panels on the device and
employee pages."""

from core.audit import register_events, register_phrases
from core.hooks import employee_created
from core.panels import device_panels, employee_panels
from devices.bulk import register_bulk_action
from enrollment.autoassign import auto_assign_after_sync
from enrollment.bulk_actions import SEND_FIX_INSTRUCTIONS
from enrollment.events import EVENTS, PHRASES
from enrollment.panels import invitations_panel, readiness_panel
from enrollment.services import invite_on_create
from mdm_sync.hooks import after_sync


def connect() -> None:
    register_events(EVENTS)
    register_phrases(PHRASES)
    after_sync.register(auto_assign_after_sync, order=20, name="enrollment.auto_assign")
    employee_created.register(invite_on_create, order=20, name="enrollment.invite_on_create")
    device_panels.register(readiness_panel, order=10)
    employee_panels.register(invitations_panel, order=10)
    register_bulk_action(SEND_FIX_INSTRUCTIONS)  # the inventory's bulk actions (devices.bulk)
