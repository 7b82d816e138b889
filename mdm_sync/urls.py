from django.urls import path

from mdm_sync import views

urlpatterns = [
    path("settings/fleet/", views.fleet_settings, name="fleet_settings"),
    path("settings/fleet/test/", views.fleet_test, name="fleet_test"),
    path("sync/", views.sync_list, name="sync_list"),
    path("sync/now/", views.sync_now, name="sync_now"),
]
