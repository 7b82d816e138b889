from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self):
        from scim import wiring

        wiring.connect()
