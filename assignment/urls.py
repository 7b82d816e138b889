"""Cockpit pages of assignment (mounted under /o/<org_slug>/): pre-assignments, CSV import, suggestions."""

from assignment.suggestion.views import urlpatterns as suggestion_urlpatterns
from assignment.views import urlpatterns as pre_assignment_urlpatterns

urlpatterns = [
    *pre_assignment_urlpatterns,
    *suggestion_urlpatterns,
]
