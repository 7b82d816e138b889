"""Cockpit pages of assignment suggestion: review queue, settings and the "what would auto do" preview."""

urlpatterns = []
