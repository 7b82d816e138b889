from django.apps import AppConfig


class OffboardingConfig(AppConfig):
    name = "offboarding"

    def ready(self):
        from offboarding import wiring

        wiring.connect()
