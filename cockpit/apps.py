from django.apps import AppConfig


class CockpitConfig(AppConfig):
    """The project package at the top of the house: settings, root URLs, the Celery app and its beat schedule, the
    cockpit shell (layout, navigation, dashboard, sign-in) and the demo. It may import every app; none imports it.
    (``cockpit`` is the core's label, kept from when the core lived here: see ``core.apps``.)"""

    name = "cockpit"
    label = "cockpit_project"
    verbose_name = "Fleet Cockpit"
