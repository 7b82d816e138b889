"""Cockpit pages of outbound webhooks (mounted under /o/<org_slug>/), in the organization's settings."""

from django.urls import path

from webhooks import views

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="webhookendpoint_list"),
    path("settings/webhooks/new/", views.endpoint_create, name="webhookendpoint_create"),
    path("settings/webhooks/<int:pk>/", views.endpoint_detail, name="webhookendpoint_detail"),
    path("settings/webhooks/<int:pk>/edit/", views.endpoint_edit, name="webhookendpoint_edit"),
    path("settings/webhooks/<int:pk>/delete/", views.endpoint_delete, name="webhookendpoint_delete"),
    path("settings/webhooks/<int:pk>/rotate-secret/", views.endpoint_rotate_secret, name="webhookendpoint_rotate"),
    path("settings/webhooks/<int:pk>/test/", views.endpoint_test, name="webhookendpoint_test"),
    path("settings/webhooks/<int:pk>/enable/", views.endpoint_enable, name="webhookendpoint_enable"),
    path("settings/webhooks/<int:pk>/disable/", views.endpoint_disable, name="webhookendpoint_disable"),
    path("settings/webhooks/deliveries/", views.delivery_list, name="webhookdelivery_list"),
    path("settings/webhooks/deliveries/<int:pk>/", views.delivery_detail, name="webhookdelivery_detail"),
    path("settings/webhooks/deliveries/<int:pk>/redeliver/", views.delivery_redeliver,
         name="webhookdelivery_redeliver"),
]
