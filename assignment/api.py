"""REST API of assignment: ``register(router)`` adds its viewsets, ``urlpatterns`` its other routes."""

from assignment import suggestion_api

urlpatterns = [
    *suggestion_api.urlpatterns,
]


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    suggestion_api.register(router)
