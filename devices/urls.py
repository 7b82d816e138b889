from django.urls import path

from devices import views

urlpatterns = [
    path("", views.device_list, name="device_list"),
    path("export.csv", views.device_export, name="device_export"),
    path("new/", views.device_create, name="device_create"),
    path("<int:pk>/", views.device_detail, name="device_detail"),
    path("<int:pk>/edit/", views.device_edit, name="device_edit"),
    path("<int:pk>/<slug:move>/", views.device_move, name="device_move"),
]
