from importlib import import_module

from django.urls import path
from rest_framework.routers import DefaultRouter

from core.api.jobs import JobViewSet
from core.api.views import AuditEventViewSet, EmployeeViewSet, GroupViewSet, OrganizationSettingsView
from devices.api import DeviceViewSet
from mdm_sync.api import SyncRunViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("devices", DeviceViewSet, basename="device")
router.register("employees", EmployeeViewSet, basename="employee")
router.register("groups", GroupViewSet, basename="group")
router.register("audit-events", AuditEventViewSet, basename="auditevent")
router.register("sync-runs", SyncRunViewSet, basename="syncrun")
router.register("jobs", JobViewSet, basename="job")

# The feature apps built on the core add their own endpoints (each module: ``register(router)``, ``urlpatterns``).
FEATURE_API_MODULES = [import_module(f"{app}.api") for app in ("enrollment", "assignment", "offboarding", "webhooks")]
for module in FEATURE_API_MODULES:
    module.register(router)

urlpatterns = [
    path("settings/", OrganizationSettingsView.as_view(), name="settings"),
    *(pattern for module in FEATURE_API_MODULES for pattern in module.urlpatterns),
    *router.urls,
]
