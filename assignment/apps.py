from django.apps import AppConfig


class AssignmentConfig(AppConfig):
    name = "assignment"

    def ready(self):
        from assignment import suggestion_wiring, wiring

        wiring.connect()
        suggestion_wiring.connect()
