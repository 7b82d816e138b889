from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cockpit import views
from devices.urls import command_urlpatterns

org_patterns = [
    path("", views.dashboard, name="dashboard"),
    path("devices/", include("devices.urls")),
    path("", include(command_urlpatterns)),
    path("", include("core.urls")),
    path("", include("mdm_sync.urls")),
    path("", include("enrollment.urls")),
    path("", include("assignment.urls")),
    path("", include("offboarding.urls")),
    path("", include("webhooks.urls")),
    path("", include("scim.cockpit_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the top bar's language switcher
    path("o/<slug:org_slug>/", include(org_patterns)),
    path("enroll/<slug:enroll_slug>/", include("enrollment.public_urls")),
    path("scim/v2/", include("scim.urls")),
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
