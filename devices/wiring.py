"""Where the devices app connects to the core, called once from ``DevicesConfig.ready``."""

from core.audit import register_events
from core.paging import track_org_data
from core.panels import employee_panels, group_panels
from devices.commands import EVENTS as COMMAND_EVENTS
from devices.events import EVENTS
from devices.models import Device
from devices.panels import employee_devices_panel, group_devices_panel


def connect() -> None:
    register_events(EVENTS | COMMAND_EVENTS)
    track_org_data(Device, Device.groups.through)  # the inventory's cached counts and filter options
    employee_panels.register(employee_devices_panel, order=1)
    group_panels.register(group_devices_panel, order=1)
