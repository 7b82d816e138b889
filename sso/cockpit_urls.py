"""Cockpit pages of single sign-on (mounted under /o/<org_slug>/)."""

from django.urls import path

from sso import views

urlpatterns = [
    path("settings/sso/", views.sso_settings, name="sso_settings"),
]
