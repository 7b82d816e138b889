from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"

    def ready(self):
        from cockpit.audit import register_events

        register_events({"device.unenrolled": "{actor} unenrolled {target} from the MDM"})
