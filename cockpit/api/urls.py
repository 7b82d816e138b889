from django.urls import path
from rest_framework.routers import DefaultRouter

from cockpit.api.views import AuditEventViewSet, EmployeeViewSet, GroupViewSet, OrganizationSettingsView
from devices.api import DeviceViewSet
from mdm_sync.api import SyncRunViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("devices", DeviceViewSet, basename="device")
router.register("employees", EmployeeViewSet, basename="employee")
router.register("groups", GroupViewSet, basename="group")
router.register("audit-events", AuditEventViewSet, basename="auditevent")
router.register("sync-runs", SyncRunViewSet, basename="syncrun")

urlpatterns = [
    path("settings/", OrganizationSettingsView.as_view(), name="settings"),
    *router.urls,
]
