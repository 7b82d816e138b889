"""REST API of assignment suggestion: ``/api/v1/suggestions/`` with accept/reject."""

urlpatterns = []


def register(router) -> None:
    """Add the suggestion viewsets to the API router."""
