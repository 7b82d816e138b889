"""A cockpit user's own pages, under /account/ (not under an organization)."""

from django.urls import path

from core import views

urlpatterns = [
    path("preferences/", views.account_preferences, name="account_preferences"),
]
