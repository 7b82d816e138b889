"""Cockpit pages of offboarding (mounted under /o/<org_slug>/)."""

urlpatterns = []
