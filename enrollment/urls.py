"""Cockpit pages of enrollment (mounted under /o/<org_slug>/)."""

from django.urls import path

from enrollment import views

urlpatterns = [
    path("employees/<int:pk>/invite/", views.employee_invite, name="employee_invite"),
    path("enrollment/invitations/", views.invitation_list, name="invitation_list"),
    path("enrollment/troubleshooting/", views.troubleshooting, name="troubleshooting"),
    path("enrollment/troubleshooting/send/", views.troubleshooting_send, name="troubleshooting_send"),
    path("enrollment/devices/<int:pk>/exemption/", views.device_exemption, name="device_exemption"),
    path("settings/remote-management/", views.remote_management, name="remote_management"),
    path("settings/remote-management/runs/<int:pk>/confirm/", views.autounenrollrun_confirm,
         name="autounenrollrun_confirm"),
]
