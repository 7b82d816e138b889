"""The employees' enrollment page (DESIGN §1, §5): ``/enroll/<enroll_slug>/``, no cockpit account.

Sign-in by a one-time code or link sent to the work e-mail; the answer never tells whether the e-mail
is known. The signed-in employee is kept in the session per organization, so signing in on one
organization's page opens nothing on another's.
"""

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.clients import client_address
from core.errors import DomainError, ServiceUnavailable
from core.languages import employee_language, organization_language
from core.models import Employee, Organization
from devices.issues import issue_help
from devices.models import DESKTOP_PLATFORMS, EnrollmentIssue
from enrollment import selectors, services
from enrollment.forms import SignInCodeForm, SignInRequestForm
from enrollment.installers import PLATFORM_LABELS, installer_backend

SESSION_KEY = "enrollment_employees"

# Issues the employee fixes by installing again from this page (DESIGN §3).
REINSTALL_ISSUES = {
    EnrollmentIssue.AGENT_MISSING, EnrollmentIssue.AGENT_INACTIVE, EnrollmentIssue.ENROLLMENT_INCOMPLETE,
    EnrollmentIssue.MDM_PROFILE_MISSING, EnrollmentIssue.OFFLINE,
}

STATUS_TEXT = {
    "enrolled": (_("Ready"), _("This device is enrolled and assigned to you. Nothing to do.")),
    "awaiting_activation": (_("Not enrolled yet"), _("Install the agent on this device with an installer below.")),
    "awaiting_user_assignment": (_("Being set up"), _("Your IT team is finishing the set-up of this device.")),
    "partially_enrolled": (_("Needs your attention"), _("Enrollment is not complete. Follow the steps below.")),
    "unenrolled": (_("Removed from management"), _("This device was removed after a long time offline. Enroll it "
                                                   "again with an installer below.")),
}


def _speak(request, language: str) -> None:
    """The page answers in ``language`` (its ``lang``, ``Content-Language`` and every message)."""
    translation.activate(language)
    request.LANGUAGE_CODE = language


def _organization(request, enroll_slug: str) -> Organization:
    """The page's organization; the page speaks its language until an employee is signed in (or the visitor's
    browser's, when the organization chose none)."""
    organization = Organization.objects.filter(slug=enroll_slug).first()
    if organization is None:
        raise Http404("No such enrollment page")
    language = organization_language(organization, default="")
    if language:
        _speak(request, language)
    return organization


def signed_in_employee(request, organization) -> Employee | None:
    """The employee signed in on this organization's page, whose language the page then speaks."""
    employee_id = request.session.get(SESSION_KEY, {}).get(str(organization.pk))
    if employee_id is None:
        return None
    employee = Employee.objects.for_org(organization).filter(pk=employee_id, status=Employee.Status.ACTIVE).first()
    if employee is None:  # offboarded (or removed) since: the session no longer opens the page
        _forget(request, organization)
    else:
        _speak(request, employee_language(employee))
    return employee


def _remember(request, organization, employee) -> None:
    signed = dict(request.session.get(SESSION_KEY, {}))
    request.session.cycle_key()
    signed[str(organization.pk)] = employee.pk
    request.session[SESSION_KEY] = signed


def _forget(request, organization) -> None:
    signed = dict(request.session.get(SESSION_KEY, {}))
    signed.pop(str(organization.pk), None)
    request.session[SESSION_KEY] = signed


def _installer_links(organization, employee) -> list[dict]:
    backend = installer_backend()
    links = []
    for platform, label in PLATFORM_LABELS.items():
        for fmt, format_label in backend.formats(platform):
            token = services.installer_link_token(employee=employee, platform=platform, fmt=fmt)
            links.append({"platform": platform, "platform_label": label, "format": fmt, "label": format_label,
                          "url": reverse("enroll_installer", kwargs={"enroll_slug": organization.slug,
                                                                     "token": token})})
    return links


def _device_rows(organization, employee, links) -> list[dict]:
    rows = []
    for device in selectors.employee_devices(organization=organization, employee=employee):
        title, text = STATUS_TEXT.get(device.enrollment_status, (device.get_enrollment_status_display(), ""))
        steps = [help for help in issue_help(device.enrollment_issues) if help.employee]
        admin_only = [help for help in issue_help(device.enrollment_issues) if not help.employee]
        agent_links = []
        needs_installer = set(device.enrollment_issues) & REINSTALL_ISSUES or device.enrollment_status in (
            "awaiting_activation", "unenrolled")
        if needs_installer and device.platform in DESKTOP_PLATFORMS:
            agent_links = [link for link in links if link["platform"] == device.platform]
        rows.append({"device": device, "title": title, "text": text, "steps": steps, "admin_only": admin_only,
                     "agent_links": agent_links})
    return rows


@never_cache
@require_safe
def enroll_home(request, enroll_slug):
    organization = _organization(request, enroll_slug)
    employee = signed_in_employee(request, organization)
    if employee is None:
        return render(request, "enrollment/enroll_signin.html",
                      {"org": organization, "form": SignInRequestForm()})
    ready = services.installers_ready(organization)
    links = _installer_links(organization, employee) if ready else []
    return render(request, "enrollment/enroll_page.html", {
        "org": organization, "employee": employee, "installers_ready": ready, "links": links,
        "rows": _device_rows(organization, employee, links),
    })


@never_cache
@require_POST
def enroll_signin(request, enroll_slug):
    """Ask for a code. Known or unknown e-mail: the same page, the same status."""
    organization = _organization(request, enroll_slug)
    form = SignInRequestForm(request.POST)
    if not form.is_valid():
        return render(request, "enrollment/enroll_signin.html", {"org": organization, "form": form}, status=400)
    email = form.cleaned_data["email"].strip().lower()
    try:
        services.signin_request(organization=organization, email=email, client_address=client_address(request))
    except services.RateLimited as exc:
        form.add_error(None, exc.message)
        return render(request, "enrollment/enroll_signin.html", {"org": organization, "form": form}, status=429)
    except ServiceUnavailable as exc:  # the code could not be queued for sending: the same answer for every e-mail
        form.add_error(None, exc.message)
        return render(request, "enrollment/enroll_signin.html", {"org": organization, "form": form}, status=503)
    except DomainError as exc:
        form.add_error("email", exc.message)
        return render(request, "enrollment/enroll_signin.html", {"org": organization, "form": form}, status=400)
    return render(request, "enrollment/enroll_code.html", {
        "org": organization, "email": email, "form": SignInCodeForm(initial={"email": email}),
    })


@never_cache
@require_POST
def enroll_code(request, enroll_slug):
    organization = _organization(request, enroll_slug)
    form = SignInCodeForm(request.POST)
    email = (request.POST.get("email") or "").strip().lower()
    status = 400
    if form.is_valid():
        try:
            employee = services.signin_with_code(organization=organization, email=form.cleaned_data["email"],
                                                 code=form.cleaned_data["code"],
                                                 client_address=client_address(request))
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            _remember(request, organization, employee)
            return redirect("enroll_home", enroll_slug=organization.slug)
    return render(request, "enrollment/enroll_code.html", {"org": organization, "email": email, "form": form},
                  status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def enroll_link(request, enroll_slug, link):
    """The link from the e-mail. GET only shows a button (mail scanners open links); POST signs in."""
    organization = _organization(request, enroll_slug)
    if request.method == "GET":
        return render(request, "enrollment/enroll_link.html", {"org": organization})
    try:
        employee = services.signin_with_link(organization=organization, link=link)
    except DomainError as exc:
        return render(request, "enrollment/enroll_link.html", {"org": organization, "error": exc.message}, status=400)
    _remember(request, organization, employee)
    return redirect("enroll_home", enroll_slug=organization.slug)


@require_POST
def enroll_signout(request, enroll_slug):
    organization = _organization(request, enroll_slug)
    _forget(request, organization)
    return redirect("enroll_home", enroll_slug=organization.slug)


@never_cache
@require_safe
def enroll_installer(request, enroll_slug, token):
    """A personal installer link: unknown, expired, tampered or another organization's → 404."""
    organization = _organization(request, enroll_slug)
    try:
        employee, platform, fmt = services.installer_link_resolve(organization=organization, token=token)
    except DomainError as exc:
        raise Http404("No such installer") from exc
    try:
        built = services.installer_build(employee=employee, platform=platform, fmt=fmt,
                                         client_address=client_address(request) or None)
    except DomainError as exc:
        return render(request, "enrollment/enroll_link.html", {"org": organization, "error": exc.message},
                      status=409)
    response = HttpResponse(built.content, content_type=built.content_type)
    response["Content-Disposition"] = f'attachment; filename="{built.filename}"'
    response["X-Installer-Signature"] = built.signature
    response["Cache-Control"] = "no-store"
    return response
