from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from enrollment import wiring

        wiring.connect()
