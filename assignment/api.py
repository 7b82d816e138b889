"""REST API of assignment: ``register(router)`` adds its viewsets, ``urlpatterns`` its other routes."""

from assignment import pre_assignment_api, suggestion_api

urlpatterns = [
    *pre_assignment_api.urlpatterns,
    *suggestion_api.urlpatterns,
]


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    pre_assignment_api.register(router)
    suggestion_api.register(router)
