"""Cockpit pages of SCIM provisioning (mounted under /o/<org_slug>/)."""

from django.urls import path

from scim import views

urlpatterns = [
    path("settings/scim/", views.scim_settings, name="scim_settings"),
]
