from django.urls import path

from mdm_sync import views

urlpatterns = [
    path("settings/fleet/", views.fleet_settings, name="fleet_settings"),
    path("settings/fleet/test/", views.fleet_test, name="fleet_test"),
    path("settings/fleet/labels/", views.fleet_label_settings, name="fleet_label_settings"),
    path("groups/<int:pk>/fleet-label/retry/", views.group_label_retry, name="group_label_retry"),
    path("sync/", views.sync_list, name="sync_list"),
    path("sync/now/", views.sync_now, name="sync_now"),
]
