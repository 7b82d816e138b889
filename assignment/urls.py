"""Cockpit pages of assignment (mounted under /o/<org_slug>/)."""

urlpatterns = []
