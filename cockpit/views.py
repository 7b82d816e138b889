"""The cockpit shell's pages: sign-in, home, health, the dashboard, and the error pages."""

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from core.forms import CockpitLoginForm
from core.selectors import audit_event_list, memberships_of
from devices.models import AssignmentStatus, AvailabilityStatus, EnrollmentStatus, Platform
from devices.selectors import device_status_counts
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
        from core.api.errors import error_body

        body = error_body(status_code=500, code="server_error", detail="Internal error; it has been logged.")
        return JsonResponse(body, status=500)
    return HttpResponse(render(request, "500.html").content, status=500)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from core.api.errors import error_body

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
