"""Cockpit pages of the core: employees, groups, the audit log, API tokens and a job's progress (mounted under
/o/<org_slug>/).

Other apps add to the employee and group pages through ``core.panels``; this module imports no domain app."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from core import services
from core.filtersets import AuditEventFilterSet, EmployeeFilterSet, GroupFilterSet
from core.forms import ApiTokenForm, EmployeeForm, GroupForm, PreferencesForm
from core.jobs import Job
from core.languages import supported, user_preferred_language
from core.models import ApiToken, AuditEvent, Employee
from core.panels import employee_panels, group_panels
from core.selectors import audit_event_list, employee_choices
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
            messages.success(request, gettext("%(display_name)s was added.") % {"display_name": employee.display_name})
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
            messages.success(request, gettext("%(display_name)s was updated.") % {"display_name": updated.display_name})
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

            raise PermissionDenied(gettext("Your role does not allow this."))
        if form.is_valid():
            group = call_service(form, lambda data: services.group_create(
                organization=request.organization, actor=actor_for(request), **data
            ))
            if group:
                messages.success(request, gettext("The group %(name)s was created.") % {"name": group.name})
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



# --- pickers ---------------------------------------------------------------------------------


@require_safe
@never_cache
def employee_lookup(request, org_slug):
    """The filters' employee picker: ``?q=`` part of a name or e-mail, at most 20 of the organization's employees,
    ``{"results": [{"id", "label", "detail"}]}``."""
    choices = employee_choices(organization=request.organization, query=request.GET.get("q"))
    return JsonResponse({"results": choices})


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
            messages.success(request, gettext("The token “%(name)s” was created. Copy its key now.") % {
                "name": token.name})
    tokens = ApiToken.objects.for_org(request.organization).select_related("created_by")
    return render(request, "cockpit/token_list.html", {"form": form, "tokens": tokens, "new_key": new_key},
                  status=400 if form.errors else 200)


@require_role("can_manage_settings")
@require_POST
def token_revoke(request, org_slug, pk):
    token = org_object_or_404(request, ApiToken, pk=pk)
    services.api_token_revoke(token=token, actor=actor_for(request))
    messages.success(request, gettext("The token “%(name)s” was revoked; requests with it now fail.") % {
        "name": token.name})
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


# --- the user's account (not under an organization) ------------------------------------------


@login_required
def account_preferences(request):
    """The signed-in user's own settings: their language, in every organization."""
    form = PreferencesForm(request.POST or None, initial={"language": user_preferred_language(request.user)})
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, lambda data: services.user_preference_set(
            user=request.user, language=data["language"], session=request.session))
        if saved:
            # The answer to this POST already speaks the new language (the middleware read the old one).
            translation.activate(saved.language or translation.get_language_from_request(request))
            messages.success(request, gettext("Your preferences were saved."))
            return redirect("account_preferences")
    return render(request, "core/account_preferences.html", {"form": form}, status=400 if form.errors else 200)


def set_language(request):
    """The top bar's switcher (Django's ``set_language``); a signed-in user's choice is also saved as their
    preference, so it follows them to another browser."""
    response = i18n.set_language(request)
    language = supported(request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER)) if request.method == "POST" else None
    if language and request.user.is_authenticated:
        services.user_preference_set(user=request.user, language=language, session=request.session)
    return response
