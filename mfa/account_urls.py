"""Pages of two-factor authentication outside any organization (mounted at the root): the user's own."""

from django.urls import path

from mfa import views

urlpatterns = [
    path("login/verify/", views.verify, name="mfa_verify"),
    path("account/security/", views.security, name="account_security"),
]
