"""Cockpit pages of two-factor authentication (mounted under /o/<org_slug>/), in the organization's settings."""

from django.urls import path

from mfa import views

urlpatterns = [
    path("settings/mfa/", views.mfa_settings, name="mfa_settings"),
    path("settings/mfa/members/<int:pk>/reset/", views.mfamember_reset, name="mfamember_reset"),
]
