"""REST endpoints of outbound webhooks (``register(router)`` adds the viewsets; ``urlpatterns`` the rest)."""


def register(router) -> None:
    """Add this app's viewsets to the API router."""


urlpatterns = []
