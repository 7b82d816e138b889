"""SCIM 2.0 endpoints (mounted at /scim/v2/)."""

urlpatterns = []
