from django.apps import AppConfig


class OffboardingConfig(AppConfig):
    name = "offboarding"
