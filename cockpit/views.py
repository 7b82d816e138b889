"""The cockpit shell's pages: sign-in, home, health, the dashboard, and the error pages."""

import logging
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from cockpit.trends import RANGES as TREND_RANGES
from cockpit.trends import dashboard_trends, days_param
from core import clients
from core.actors import Actor
from core.api.errors import RETRY_AFTER_SECONDS, database_unavailable, database_unavailable_body, error_body
from core.audit import audit_record
from core.clients import client_address
from core.forms import CockpitLoginForm
from core.middleware import session_memberships
from core.selectors import audit_event_list, memberships_of
from devices.models import AssignmentStatus, AvailabilityStatus, EnrollmentStatus, Platform
from devices.selectors import device_status_counts
from mdm_sync.selectors import sync_health
from mfa.sign_in import needs_second_step, pending_clear, pending_start

logger = logging.getLogger(__name__)

# --- public ----------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login, with failed attempts limited per account and, far higher, per client address (issue #12 §4).

    The account is the user the typed name or e-mail signs in as (resolved the way ``CockpitLoginForm`` resolves
    it), or the typed text itself when it names nobody: every spelling that could sign in as one user counts
    against that user, and no failure against one account ever blocks another account's right password. The client
    address (``core.clients.client_address``: ``X-Forwarded-For`` only from ``TRUSTED_PROXIES``) has its own, much
    higher limit for the guessing spread over many accounts. ``LOGIN_RATE_LIMIT`` and ``LOGIN_ADDRESS_RATE_LIMIT``
    are (failures, seconds). A right password clears its account's count, never its address's.

    The failure that locks a known account is audited (``auth.login_locked``, target the user) in every organization
    the user is a member of: each one's admins see an attack on one of their people. A name that is no account, or
    a user without membership, is audited nowhere (an entry needs an organization, and none is theirs); an address
    lockout belongs to no organization either. Both are logged as warnings. The answer, 429 with the same message,
    is the same whether the account exists or not.
    """

    template_name = "cockpit/login.html"
    form_class = CockpitLoginForm
    redirect_authenticated_user = True

    def _account(self, typed: str):
        """The user that ``typed`` (a user name, or the e-mail of exactly one active user) signs in as, or None."""
        user_model = get_user_model()
        manager = user_model._default_manager
        user = manager.filter(**{user_model.USERNAME_FIELD: typed}).first() if typed else None
        if user is None and "@" in typed:
            matches = list(manager.filter(email__iexact=typed, is_active=True)[:2])
            user = matches[0] if len(matches) == 1 else None
        return user

    def post(self, request, *args, **kwargs):
        typed = (request.POST.get("username") or "").strip()
        self.login_user = self._account(typed)
        self.login_address = client_address(request)
        account = f"user:{self.login_user.pk}" if self.login_user else f"name:{typed.lower()}"
        self.login_limits = {
            "account": (clients.limit_key("login-fail:account", account), settings.LOGIN_RATE_LIMIT),
            "address": (clients.limit_key("login-fail:address", clients.address_bucket(self.login_address)),
                        settings.LOGIN_ADDRESS_RATE_LIMIT),
        }
        if any(clients.count(key) >= allowed for key, (allowed, _window) in self.login_limits.values()):
            # A form without the password: nothing is authenticated while the account or address is locked.
            form = self.form_class(request=request, data={"username": typed})
            form.errors.clear()
            form.add_error(None, _("Too many failed sign-in attempts. Wait a few minutes and try again."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for scope, (key, (allowed, window)) in self.login_limits.items():
            if clients.hit(key, window) == allowed:  # this failure locks the key: record it once
                self._record_lockout(scope, allowed, window)
        return super().form_invalid(form)

    def form_valid(self, form):
        """A right password clears the account's count. A user with a second factor (``mfa``) is not signed in
        yet: the session keeps them pending and ``/login/verify/`` asks for a code, then goes on to ``next``."""
        clients.reset(self.login_limits["account"][0])
        user = form.get_user()
        if needs_second_step(user):
            pending_start(self.request, user=user, backend=user.backend, next_url=self.get_success_url())
            return redirect("mfa_verify")
        pending_clear(self.request)  # an abandoned second step of someone else's sign-in in this browser
        return super().form_valid(form)

    def _record_lockout(self, scope: str, failures: int, window: int) -> None:
        minutes = window // 60
        if scope == "address":
            logger.warning("Cockpit sign-in locked for the address %s after %d failures, for %d minutes",
                           self.login_address, failures, minutes)
            return
        memberships = memberships_of(user=self.login_user) if self.login_user else []
        if not memberships:
            logger.warning("Cockpit sign-in locked for an account of no organization after %d failures (last "
                           "from %s), for %d minutes", failures, self.login_address, minutes)
            return
        actor = Actor.system("cockpit sign-in")
        with transaction.atomic():
            for membership in memberships:
                audit_record(organization=membership.organization, actor=actor, event="auth.login_locked",
                             target=self.login_user,
                             after={"failures": failures, "address": self.login_address, "minutes": minutes})


class LogoutView(auth_views.LogoutView):
    pass


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = session_memberships(request)  # a single sign-on session: its organization only
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
    """A 500 in the API keeps the API's error shape; the cockpit shows a plain page. The database gone in the
    middle of the request is a 503 (nothing was changed; try again), in the API's shape or on a plain page: the
    pages render without a request context, which would read the database again."""
    if database_unavailable(sys.exc_info()[1]):
        body = database_unavailable_body()
        if request.path.startswith("/api/"):
            response = JsonResponse(body, status=503)
        else:
            response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if request.path.startswith("/api/"):
        body = error_body(status_code=500, code="server_error", detail=_("Internal error; it has been logged."))
        return JsonResponse(body, status=500)
    return HttpResponse(render(request, "500.html").content, status=500)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(status_code=404, code="not_found", detail=_("Not found.")), status=404)
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
    total or a percentage (enrollment and platform bars leave them out too). Below, the trends of the last 30 or
    90 days (``?days=``) from the daily snapshots (``cockpit.trends``)."""
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
        "trends": dashboard_trends(organization=request.organization, days=days_param(request.GET.get("days"))),
        "trend_ranges": TREND_RANGES,
    }
    return render(request, "cockpit/dashboard.html", context)
