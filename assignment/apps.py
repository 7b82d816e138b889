from django.apps import AppConfig


class AssignmentConfig(AppConfig):
    name = "assignment"

    def ready(self):
        from assignment import wiring

        wiring.connect()
