"""Cockpit pages of assignment (mounted under /o/<org_slug>/): pre-assignments, CSV import, suggestions."""

from assignment.suggestion_views import urlpatterns as suggestion_urlpatterns

urlpatterns = [
    *suggestion_urlpatterns,
]
