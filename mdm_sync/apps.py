from django.apps import AppConfig


class MdmSyncConfig(AppConfig):
    name = "mdm_sync"
