"""Cockpit pages of outbound webhooks (mounted under /o/<org_slug>/)."""

urlpatterns = []
