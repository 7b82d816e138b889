"""Cockpit pages of the core: employees, groups, the audit log, API tokens and a job's progress (mounted under
/o/<org_slug>/).

Other apps add to the employee and group pages through ``core.panels``; this module imports no domain app."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from core import services
from core.filtersets import AuditEventFilterSet, EmployeeFilterSet, GroupFilterSet
from core.forms import ApiTokenForm, EmployeeForm, GroupForm
from core.jobs import Job
from core.models import ApiToken, AuditEvent, Employee
from core.panels import employee_panels, group_panels
from core.selectors import audit_event_list
from core.selectors import employee_list as select_employees
from core.selectors import group_list as select_groups
from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role

# --- employees -------------------------------------------------------------------------------


@require_safe
def employee_list(request, org_slug):
    filterset, rows = filterset_for(EmployeeFilterSet, request, select_employees(organization=request.organization))
    return render(request, "cockpit/employee_list.html", {"filter": filterset, "page": paginate(request, rows)})


@require_role("can_manage_people")
def employee_create(request, org_slug):
    form = EmployeeForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        employee = call_service(form, lambda data: services.employee_create(
            organization=request.organization, actor=actor_for(request), groups=list(data.pop("groups")), **data
        ))
        if employee:
            messages.success(request, f"{employee.display_name} was added.")
            return redirect("employee_detail", org_slug=org_slug, pk=employee.pk)
    return render(request, "cockpit/employee_form.html", {"form": form}, status=400 if form.errors else 200)


@require_role("can_manage_people")
def employee_edit(request, org_slug, pk):
    employee = org_object_or_404(request, Employee, pk=pk)
    initial = {field: getattr(employee, field) for field in services.EMPLOYEE_FIELDS} | {
        "groups": list(employee.groups.all())
    }
    form = EmployeeForm(request.POST or None, initial=initial, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, lambda data: services.employee_update(
            employee=employee, actor=actor_for(request), groups=list(data.pop("groups")), **data
        ))
        if updated:
            messages.success(request, f"{updated.display_name} was updated.")
            return redirect("employee_detail", org_slug=org_slug, pk=employee.pk)
    return render(request, "cockpit/employee_form.html", {"form": form, "employee": employee},
                  status=400 if form.errors else 200)


@require_safe
def employee_detail(request, org_slug, pk):
    employee = org_object_or_404(request, select_employees(organization=request.organization), pk=pk)
    events = AuditEvent.objects.for_org(request.organization).for_target(employee)[:50]
    panels = employee_panels.panels_for(request, employee)  # devices, enrollment, assignment, offboarding
    return render(request, "cockpit/employee_detail.html", {"employee": employee, "events": events, "panels": panels})


# --- groups ----------------------------------------------------------------------------------


def group_list(request, org_slug):
    form = GroupForm(request.POST or None)
    if request.method == "POST":
        if not request.membership.can_manage_people:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            group = call_service(form, lambda data: services.group_create(
                organization=request.organization, actor=actor_for(request), **data
            ))
            if group:
                messages.success(request, f"The group {group.name} was created.")
                return redirect("group_list", org_slug=org_slug)
    filterset, rows = filterset_for(GroupFilterSet, request, select_groups(organization=request.organization))
    return render(request, "cockpit/group_list.html",
                  {"filter": filterset, "page": paginate(request, rows), "form": form},
                  status=400 if form.errors else 200)


@require_safe
def group_detail(request, org_slug, pk):
    group = org_object_or_404(request, select_groups(organization=request.organization), pk=pk)
    employees = group.employees.all()[:200]
    panels = group_panels.panels_for(request, group)  # devices: its devices; mdm_sync: its Fleet label
    return render(request, "cockpit/group_detail.html", {"group": group, "employees": employees, "panels": panels})


# --- audit log -------------------------------------------------------------------------------


@require_safe
def audit_list(request, org_slug):
    filterset, rows = filterset_for(AuditEventFilterSet, request, audit_event_list(organization=request.organization))
    return render(request, "cockpit/audit_list.html", {"filter": filterset, "page": paginate(request, rows)})



# --- API tokens ------------------------------------------------------------------------------


@require_role("can_manage_settings")
def token_list(request, org_slug):
    """The organization's API tokens. A new key is shown once, on the answer to its creation, and never stored."""
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        created = call_service(form, lambda data: services.api_token_create(
            organization=request.organization, actor=actor_for(request), **data
        ))
        if created:
            token, new_key = created
            form = ApiTokenForm()
            messages.success(request, f"The token “{token.name}” was created. Copy its key now.")
    tokens = ApiToken.objects.for_org(request.organization).select_related("created_by")
    return render(request, "cockpit/token_list.html", {"form": form, "tokens": tokens, "new_key": new_key},
                  status=400 if form.errors else 200)


@require_role("can_manage_settings")
@require_POST
def token_revoke(request, org_slug, pk):
    token = org_object_or_404(request, ApiToken, pk=pk)
    services.api_token_revoke(token=token, actor=actor_for(request))
    messages.success(request, f"The token “{token.name}” was revoked; requests with it now fail.")
    return redirect("token_list", org_slug=org_slug)


# --- jobs ------------------------------------------------------------------------------------


@require_safe
def job_progress(request, org_slug, pk):
    """A job's progress block (``templates/core/job_progress.html``), polled by htmx while the job runs. Once it is
    over, htmx is sent to ``next`` (a page of this site showing the outcome), or the block shows the outcome."""
    job = org_object_or_404(request, Job, pk=pk)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = ""
    polled = request.headers.get("HX-Request") == "true"
    if job.is_over and next_url:
        if not polled:
            return redirect(next_url)
        response = HttpResponse(status=200)
        response["HX-Redirect"] = next_url
        return response
    if not polled and next_url:  # without JavaScript, the page that shows the progress is the one to reload
        return redirect(next_url)
    return render(request, "core/job_progress.html", {"job": job, "job_next": next_url})
