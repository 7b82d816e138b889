"""REST API of enrollment: ``register(router)`` adds its viewsets, ``urlpatterns`` its other routes (cockpit.api.urls)."""

urlpatterns = []


def register(router) -> None:
    """Add this app's viewsets to the API router."""
