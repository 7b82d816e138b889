from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cockpit import shell, views
from core import views as core_views
from devices.urls import command_urlpatterns, lookup_urlpatterns

org_patterns = [
    path("", views.dashboard, name="dashboard"),
    path("search/", shell.search, name="search"),  # the top bar's global search
    path("devices/", include("devices.urls")),
    path("", include(command_urlpatterns)),
    path("", include(lookup_urlpatterns)),
    path("", include("core.urls")),
    path("", include("mdm_sync.urls")),
    path("", include("enrollment.urls")),
    path("", include("assignment.urls")),
    path("", include("offboarding.urls")),
    path("", include("webhooks.urls")),
    path("", include("scim.cockpit_urls")),
    path("", include("sso.cockpit_urls")),
    path("", include("mfa.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", include("mfa.account_urls")),  # /login/verify/ (a sign-in's second step), /account/security/
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", shell.favicon, name="favicon"),
    # Django's set_language, which also saves a signed-in user's choice as their preference (same URL and name).
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the top bar's language switcher
    path("account/", include("core.account_urls")),  # the signed-in user's preferences
    path("o/<slug:org_slug>/", include(org_patterns)),
    path("enroll/<slug:enroll_slug>/", include("enrollment.public_urls")),
    path("scim/v2/", include("scim.urls")),
    path("sso/", include("sso.urls")),
    path("api/v1/", include(("cockpit.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]

handler404 = "cockpit.views.not_found"
handler500 = "cockpit.views.server_error"
