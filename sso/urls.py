"""Single sign-on's public pages (mounted at /sso/). The organization is named ``sso_slug``, not ``org_slug``: these
pages are reached before any session, so ``core.middleware.OrganizationMiddleware`` must not resolve them."""

from django.urls import path

from sso import views

urlpatterns = [
    path("", views.sso_start, name="sso_start"),
    path("<slug:sso_slug>/login/", views.sso_login, name="sso_login"),
    path("<slug:sso_slug>/callback/", views.sso_callback, name="sso_callback"),
]
