from django.apps import AppConfig


class MdmSyncConfig(AppConfig):
    name = "mdm_sync"

    def ready(self):
        from mdm_sync import wiring

        wiring.connect()
