"""Cockpit pages of the core: login, home, health, dashboard, employees, groups, audit log."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from cockpit import services
from cockpit.filtersets import AuditEventFilterSet, EmployeeFilterSet, GroupFilterSet
from cockpit.forms import ApiTokenForm, CockpitLoginForm, EmployeeForm, GroupForm
from cockpit.models import ApiToken, AuditEvent, Employee
from cockpit.panels import employee_panels, group_panels
from cockpit.selectors import audit_event_list, memberships_of
from cockpit.selectors import employee_list as select_employees
from cockpit.selectors import group_list as select_groups
from cockpit.web import actor_for, call_service, filterset_for, paginate, require_role
from devices.models import AssignmentStatus, AvailabilityStatus, EnrollmentStatus, Platform
from devices.selectors import device_queryset, device_status_counts
from mdm_sync.selectors import sync_health

# --- public ----------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login, rate-limited per client address and per typed user name."""

    template_name = "cockpit/login.html"
    form_class = CockpitLoginForm
    redirect_authenticated_user = True

    def _keys(self):
        from django.conf import settings

        address = self.request.META.get("REMOTE_ADDR", "")
        username = (self.request.POST.get("username") or "").strip().lower()
        limit, window = settings.LOGIN_RATE_LIMIT
        return [f"login-fail:ip:{address}", f"login-fail:user:{username}"], limit, window

    def post(self, request, *args, **kwargs):
        keys, limit, window = self._keys()
        if any((cache.get(key) or 0) >= limit for key in keys):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many failed sign-in attempts. Wait a few minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        keys, _limit, window = self._keys()
        for key in keys:
            cache.add(key, 0, window)
            cache.incr(key)
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    pass


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = memberships_of(user=request.user)
    if len(memberships) == 1:
        return redirect("dashboard", org_slug=memberships[0].organization.slug)
    return render(request, "cockpit/home.html", {"memberships": memberships})


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the Celery broker answer; 503 and which one failed otherwise."""
    from cockpit.celery import app

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure to the load balancer
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def server_error(request):
    """A 500 in the API keeps the API's error shape; the cockpit shows a plain page."""
    if request.path.startswith("/api/"):
        from cockpit.api.errors import error_body

        body = error_body(status_code=500, code="server_error", detail="Internal error; it has been logged.")
        return JsonResponse(body, status=500)
    return HttpResponse(render(request, "500.html").content, status=500)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from cockpit.api.errors import error_body

        return JsonResponse(error_body(status_code=404, code="not_found", detail="Not found."), status=404)
    return HttpResponse(render(request, "404.html").content, status=404)


# --- dashboard -------------------------------------------------------------------------------


def _bars(counter, choices, total):
    rows = [(value, label, counter.get(value, 0)) for value, label in choices]
    return [
        {"value": value, "label": label, "count": count, "percent": round(100 * count / total) if total else 0}
        for value, label, count in rows
    ]


@require_safe
def dashboard(request, org_slug):
    """One count everywhere: the devices in use or in stock. Archived devices are counted apart, never in a
    total or a percentage (enrollment and platform bars leave them out too)."""
    counts = device_status_counts(organization=request.organization)
    archived = counts["availability"].get(AvailabilityStatus.ARCHIVED, 0)
    active_total = counts["total"] - archived
    pairs = [
        ("in_use:assigned", _("In use · assigned"),
         {"availability_status": "in_use", "assignment_status": "assigned"}),
        ("in_stock:to_assign", _("In stock · to assign"),
         {"availability_status": "in_stock", "assignment_status": "to_assign"}),
        ("in_use:to_assign", _("In use · to assign"),
         {"availability_status": "in_use", "assignment_status": "to_assign"}),
    ]
    status_bars = [
        {"label": label, "count": counts["assignment"].get(key, 0), "query": query,
         "percent": round(100 * counts["assignment"].get(key, 0) / active_total) if active_total else 0}
        for key, label, query in pairs
    ]
    context = {
        "counts": counts,
        "active_total": active_total,
        "archived": archived,
        "status_bars": status_bars,
        "enrollment_bars": _bars(counts["enrollment"], EnrollmentStatus.choices, active_total),
        "platform_bars": [b for b in _bars(counts["platform"], Platform.choices, active_total) if b["count"]],
        "to_assign": counts["assignment"].get("in_use:to_assign", 0),
        "recent_events": audit_event_list(organization=request.organization)[:10],
        "sync": sync_health(organization=request.organization),
        "AssignmentStatus": AssignmentStatus,
    }
    return render(request, "cockpit/dashboard.html", context)


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
    employee = get_object_or_404(Employee.objects.for_org(request.organization), pk=pk)
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
    employee = select_employees(organization=request.organization).filter(pk=pk).first()
    if employee is None:
        raise Http404("No such employee")
    devices = device_queryset(organization=request.organization).filter(assignee=employee)
    events = AuditEvent.objects.for_org(request.organization).for_target(employee)[:50]
    panels = employee_panels.panels_for(request, employee)  # added by enrollment, assignment, offboarding
    return render(request, "cockpit/employee_detail.html",
                  {"employee": employee, "devices": devices, "events": events, "panels": panels})


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
    group = select_groups(organization=request.organization).filter(pk=pk).first()
    if group is None:
        raise Http404("No such group")
    employees = group.employees.all()[:200]
    devices = device_queryset(organization=request.organization).filter(groups=group)[:200]
    panels = group_panels.panels_for(request, group)  # e.g. mdm_sync: the group's Fleet label
    return render(request, "cockpit/group_detail.html",
                  {"group": group, "employees": employees, "devices": devices, "panels": panels})


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
    token = ApiToken.objects.for_org(request.organization).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token")
    services.api_token_revoke(token=token, actor=actor_for(request))
    messages.success(request, f"The token “{token.name}” was revoked; requests with it now fail.")
    return redirect("token_list", org_slug=org_slug)
