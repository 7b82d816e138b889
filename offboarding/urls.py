"""Cockpit pages of offboarding (mounted under /o/<org_slug>/)."""

from django.urls import path

from offboarding import views

urlpatterns = [
    path("employees/<int:pk>/offboard/", views.employee_offboard, name="employee_offboard"),
    path("offboardings/", views.offboarding_list_view, name="offboarding_list"),
    path("offboardings/departed/", views.offboarding_departed, name="offboarding_departed"),
    path("offboardings/<int:pk>/", views.offboarding_detail, name="offboarding_detail"),
    path("offboardings/<int:pk>/decisions/", views.offboarding_edit, name="offboarding_edit"),
    path("offboardings/<int:pk>/complete/", views.offboarding_complete, name="offboarding_complete"),
    path("offboardings/<int:pk>/schedule/", views.offboarding_schedule, name="offboarding_schedule"),
    path("offboardings/<int:pk>/cancel/", views.offboarding_cancel, name="offboarding_cancel"),
    path("offboardings/decisions/<int:pk>/hand-over/", views.decision_hand_over, name="decision_hand_over"),
    path("settings/offboarding/", views.offboarding_settings, name="offboarding_settings"),
]
