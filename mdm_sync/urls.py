from django.urls import path

from mdm_sync import views

urlpatterns = [
    path("", views.fleet_settings, name="fleet_settings"),
    path("test/", views.fleet_test, name="fleet_test"),
]
