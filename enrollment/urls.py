"""Cockpit pages of enrollment (mounted under /o/<org_slug>/)."""

urlpatterns = []
