"""Where the devices app connects to the core, called once from ``DevicesConfig.ready``."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_events, register_phrases
from core.jobs import register_job_kind
from core.paging import track_org_data
from core.panels import employee_panels, group_panels
from devices.bulk import BULK_JOB, DEVICE_BULK_ACTIONS, devices_bulk_job, register_bulk_action
from devices.commands import EVENTS as COMMAND_EVENTS
from devices.events import EVENTS, PHRASES
from devices.models import Device
from devices.panels import employee_devices_panel, group_devices_panel


def connect() -> None:
    register_events(EVENTS | COMMAND_EVENTS)
    register_phrases(PHRASES)
    track_org_data(Device, Device.groups.through)  # the inventory's cached counts and filter options
    employee_panels.register(employee_devices_panel, order=1)
    group_panels.register(group_devices_panel, order=1)
    # Bulk actions on the inventory (devices.bulk): the app's own; enrollment adds its fix instructions. A large
    # selection is a job; not re-run after a dead worker (the devices it had moved would answer "already done").
    for action in DEVICE_BULK_ACTIONS:
        register_bulk_action(action)
    register_job_kind(BULK_JOB, devices_bulk_job, label=_("Bulk action on devices"))
