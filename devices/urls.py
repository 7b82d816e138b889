from django.urls import path

from devices import views, views_bulk

urlpatterns = [
    path("", views.device_list, name="device_list"),
    path("export.csv", views.device_export, name="device_export"),
    path("new/", views.device_create, name="device_create"),
    path("bulk/", views_bulk.device_bulk, name="device_bulk"),
    path("bulk/jobs/<int:pk>/", views_bulk.job_device_bulk, name="job_device_bulk"),
    path("<int:pk>/", views.device_detail, name="device_detail"),
    path("<int:pk>/edit/", views.device_edit, name="device_edit"),
    path("<int:pk>/<slug:move>/", views.device_move, name="device_move"),
]

# Mounted beside ``devices/`` under /o/<org_slug>/ (the wipe retry URL predates the device commands).
command_urlpatterns = [
    path("wipes/<int:pk>/retry/", views.command_retry, name="wipe_retry"),
    path("wipes/<int:pk>/hand-over/", views.command_hand_over, name="wipe_hand_over"),
]

# Mounted under /o/<org_slug>/: the filters' device picker (its employee twin is core's).
lookup_urlpatterns = [
    path("lookup/devices/", views.device_lookup, name="device_lookup"),
]
