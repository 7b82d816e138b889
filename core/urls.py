"""Cockpit pages of the core, mounted under /o/<org_slug>/ by the project's URLs."""

from django.urls import path

from core import views

urlpatterns = [
    path("employees/", views.employee_list, name="employee_list"),
    path("employees/new/", views.employee_create, name="employee_create"),
    path("employees/<int:pk>/", views.employee_detail, name="employee_detail"),
    path("employees/<int:pk>/edit/", views.employee_edit, name="employee_edit"),
    path("groups/", views.group_list, name="group_list"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("audit/", views.audit_list, name="audit_list"),
    path("settings/api-tokens/", views.token_list, name="token_list"),
    path("settings/api-tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("lookup/employees/", views.employee_lookup, name="employee_lookup"),
]
