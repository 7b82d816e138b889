from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"

    def ready(self):
        from cockpit.audit import register_events
        from devices.commands import EVENTS as COMMAND_EVENTS

        register_events({"device.unenrolled": "{actor} unenrolled {target} from the MDM"} | COMMAND_EVENTS)
