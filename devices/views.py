"""Cockpit pages of the inventory: list (with CSV export), add, device page, status moves."""

import csv
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from core.audit import Source
from core.errors import DomainError
from core.exports import formula_safe
from core.models import AuditEvent, Employee, Group
from core.paging import COUNT_TTL_SECONDS, org_generation_key
from core.panels import device_panels
from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role, run_action
from devices import commands, handover, rules, services
from devices.bulk import bulk_actions
from devices.filtersets import DeviceFilterSet
from devices.forms import DeviceForm, DeviceMoveForm
from devices.issues import issue_help
from devices.listing import INVENTORY_COLUMNS, DeviceListing, device_filter_spec, inventory_rows
from devices.models import AvailabilityStatus, Device, DeviceCommand
from devices.selectors import device_choices, device_commands, device_queryset, with_group_names


@require_safe
def device_list(request, org_slug):
    """The inventory: the filter form, a page of rows (``devices.listing``), the pagination. The page's content
    comes from the cache when this user saw the same query string of the same data this minute
    (:func:`device_list_content`): then nothing is validated, read or rendered but the page's shell."""
    context = {
        # Built only if something reads them (the content is rendered from its own context, or cached).
        "filter": SimpleLazyObject(lambda: _filterset(request)),
        "page": SimpleLazyObject(lambda: _page(request)[1]),
        "content": device_list_content(request),
    }
    return render(request, "devices/device_list.html", context)


def _page(request):
    """The query string's filter spec and page of the inventory (``devices.listing``)."""
    spec = device_filter_spec(request.GET, request=request)[0]
    listing = DeviceListing(organization_id=request.organization.pk, spec=spec, columns=INVENTORY_COLUMNS,
                            rows=inventory_rows, owner_groups=True)
    return spec, paginate(request, listing)


CONTENT_TTL_SECONDS = 60


def device_list_content(request) -> str:
    """``devices/_device_list_content.html`` (everything under the top bar), cached for the organization's data
    generation, the language, the user, their role's right to act on devices, the whole query string and the
    minute: that is everything it shows (the rows' "last seen" is as of the minute, as :func:`device_rows_html`
    says), but the CSRF token of the action bar's form, put in after the cache with a placeholder kept beside
    the HTML (random, so no text of the page can be taken for it)."""
    organization, membership = request.organization, request.membership
    minute = int(timezone.now().timestamp()) // 60
    pairs = sorted((k, v) for k, values in request.GET.lists() for v in values)
    parts = (get_language(), organization.slug, request.user.pk, membership.can_act_on_devices, pairs, minute)
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = org_generation_key(organization.pk, f"device-list-content:{digest}")
    cached = cache.get(key)
    if cached is None:
        spec, page = _page(request)
        placeholder = uuid.uuid4().hex
        context = {
            "request": request, "user": request.user, "organization": organization, "membership": membership,
            "csrf_token": placeholder,
            "filters_html": filters_html(request),
            "page": page,
            "rows": device_rows_html(request, spec, page),
            "columns": TABLE_COLUMNS,
            # The action bar (devices.views_bulk), for those who may act on devices.
            "bulk": membership.can_act_on_devices,
            "bulk_actions": bulk_actions(),
            "bulk_groups": SimpleLazyObject(lambda: _group_options(organization.pk)),
            "filters_query": _filters_query(request),
        }
        cached = (placeholder, get_template("devices/_device_list_content.html").render(context))
        cache.set(key, cached, CONTENT_TTL_SECONDS)
    placeholder, html_text = cached
    return mark_safe(html_text.replace(placeholder, get_token(request)))  # noqa: S308 (rendered by the engine)


@dataclass(frozen=True)
class Column:
    """A column of the inventory's table the column chooser shows or hides (``inventory.js``)."""

    key: str
    label: str
    default: bool = True  # shown until the user chooses: the default set fits a 1280 px screen


TABLE_COLUMNS = (
    Column("serial", gettext_lazy("Serial")),
    Column("platform", gettext_lazy("Platform")),
    Column("availability", gettext_lazy("Availability")),
    Column("assignment", gettext_lazy("Assignment"), default=False),
    Column("enrollment", gettext_lazy("Enrollment")),
    Column("assignee", gettext_lazy("Assignee")),
    Column("groups", gettext_lazy("Groups")),
    Column("last_seen", gettext_lazy("Last seen")),
)


def _group_options(organization_id: int) -> list[tuple[int, str]]:
    """The action bar's groups, ``[(id, name)]``, cached for the organization's data generation (as the filters)."""
    key = org_generation_key(organization_id, "bulk-groups")
    options = cache.get(key)
    if options is None:
        options = list(Group.objects.filter(organization_id=organization_id).order_by("name").values_list("pk", "name"))
        cache.set(key, options, COUNT_TTL_SECONDS)
    return options


def _filters_query(request) -> str:
    """The list's query string without the page: what "all matching this filter" selects."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


FILTER_FORM_IGNORED_PARAMS = {"page"}


def _filterset(request) -> DeviceFilterSet:
    return DeviceFilterSet(request.GET or None, queryset=device_queryset(organization=request.organization),
                           request=request)


def filters_html(request) -> str:
    """``_filters.html`` for this query string, cached for the organization's data generation.

    The form shows the query string's values, the organization's groups and the errors of values that name
    nothing (an unknown group or assignee): all of it changes only with the query string or a write to the
    organization's devices, employees or groups, which starts a new generation."""
    pairs = sorted((k, v) for k, values in request.GET.lists() if k not in FILTER_FORM_IGNORED_PARAMS for v in values)
    digest = hashlib.sha256(repr((get_language(), pairs)).encode()).hexdigest()[:32]
    key = org_generation_key(request.organization.pk, f"device-filters:{digest}")
    html_text = cache.get(key)
    if html_text is None:
        html_text = get_template("_filters.html").render({"filter": _filterset(request)})  # it needs nothing else
        cache.set(key, html_text, COUNT_TTL_SECONDS)
    return mark_safe(html_text)  # noqa: S308 (rendered by the template engine above)


ROWS_TTL_SECONDS = 60


def device_rows_html(request, spec, page) -> str:
    """The inventory table's rows, ``devices/_device_rows.html``, cached for the organization's data generation,
    the filters, the page and the minute: everything a row shows but "last seen" changes only with a write to
    the organization's devices, employees or groups (a new generation); "last seen" ("3 hours ago") is as of
    the minute the fragment was rendered in. A page served from the cache never reads its rows
    (``devices.listing.Page``)."""
    minute = int(timezone.now().timestamp()) // 60
    parts = (get_language(), spec, page.number, page.paginator.per_page, minute)
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = org_generation_key(request.organization.pk, f"device-rows:{digest}")
    html_text = cache.get(key)
    if html_text is None:
        html_text = get_template("devices/_device_rows.html").render(
            {"rows": page.object_list, "org_slug": request.organization.slug}
        )
        cache.set(key, html_text, ROWS_TTL_SECONDS)
    return mark_safe(html_text)  # noqa: S308 (rendered by the template engine above)


# --- CSV export ------------------------------------------------------------------------------


EXPORT_COLUMNS = [
    ("Serial number", lambda d: d.serial_number),
    ("Name", lambda d: d.name),
    ("Platform", lambda d: d.get_platform_display()),
    ("Model", lambda d: d.model),
    ("OS version", lambda d: d.os_version),
    ("Availability", lambda d: d.get_availability_status_display()),
    ("Assignment", lambda d: d.get_assignment_status_display() if d.assignment_status else ""),
    ("Enrollment", lambda d: d.get_enrollment_status_display()),
    ("Enrollment issues", lambda d: "/".join(d.enrollment_issues)),
    ("Assignee e-mail", lambda d: d.assignee.email if d.assignee_id else ""),
    ("Assignee name", lambda d: d.assignee.full_name if d.assignee_id else ""),
    ("Groups", lambda d: "/".join(d.group_names)),
    ("Ownership", lambda d: d.get_ownership_display()),
    ("Usage", lambda d: d.get_usage_display()),
    ("Last seen", lambda d: d.last_seen_at.isoformat() if d.last_seen_at else ""),
    ("Fleet host id", lambda d: d.fleet_host_id or ""),
]


EXPORT_CHUNK = 2000


class _Echo:
    def write(self, value):
        return value


def _export_rows(writer, devices):
    for device in with_group_names(devices):
        yield writer.writerow([formula_safe(get(device)) for _, get in EXPORT_COLUMNS])


@require_safe
def device_export(request, org_slug):
    """The filtered inventory as CSV, streamed in chunks so 100,000 rows never sit in memory."""
    _filterset, rows = filterset_for(DeviceFilterSet, request, device_queryset(organization=request.organization))
    writer = csv.writer(_Echo())

    def stream():
        yield writer.writerow([title for title, _ in EXPORT_COLUMNS])
        chunk = []
        for device in rows.iterator(chunk_size=EXPORT_CHUNK):
            chunk.append(device)
            if len(chunk) == EXPORT_CHUNK:
                yield from _export_rows(writer, chunk)
                chunk = []
        yield from _export_rows(writer, chunk)

    filename = f"devices-{request.organization.slug}-{timezone.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- add, show ---------------------------------------------------------------------------------


@require_role("can_act_on_devices")
def device_create(request, org_slug):
    form = DeviceForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        device = call_service(form, lambda data: services.device_create(
            organization=request.organization, actor=actor_for(request), groups=list(data.pop("groups")), **data
        ))
        if device:
            messages.success(request, _("%(device)s was added to the inventory, in stock.") % {"device": device})
            return redirect("device_detail", org_slug=org_slug, pk=device.pk)
    return render(request, "devices/device_form.html", {"form": form}, status=400 if form.errors else 200)


@require_role("can_act_on_devices")
def device_edit(request, org_slug, pk):
    device = _get_device(request, pk)
    initial = {field: getattr(device, field) for field in services.DESCRIPTIVE_FIELDS} | {
        "groups": list(device.groups.all()), "version": device.version,
        "responsible_technician": device.responsible_technician,
    }
    form = DeviceForm(request.POST or None, initial=initial, organization=request.organization, editing=True)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, lambda data: services.device_update(
            device=device, actor=actor_for(request), groups=list(data.pop("groups")),
            expected_version=data.pop("version"), **data,
        ))
        if updated:
            messages.success(request, _("%(device)s was updated.") % {"device": updated})
            return redirect("device_detail", org_slug=org_slug, pk=device.pk)
    error = getattr(form, "domain_error", None)
    status = error.status if error else (400 if form.errors else 200)
    return render(request, "devices/device_form.html", {"form": form, "device": device}, status=status)


def _get_device(request, pk) -> Device:
    return with_group_names([org_object_or_404(request, device_queryset(organization=request.organization), pk=pk)])[0]


@dataclass(frozen=True)
class Move:
    """A status move as the cockpit offers it."""

    slug: str
    title: str
    service: Callable
    needs_employee: bool = False
    offers_wipe: bool = False
    offers_removal: bool = False
    danger: bool = False

    def wipe_by_default(self, device: Device) -> bool:
        """The cockpit recommends a wipe when the owner changes (DESIGN §4): a reassignment, or an unassignment,
        return to stock or archive of a device that had an owner; never for a device nobody had."""
        return self.offers_wipe and device.assignee_id is not None

    def allowed(self, device: Device) -> bool:
        archived = device.is_archived
        return {
            "assign": not archived and device.assignee_id is None,
            "reassign": not archived and device.assignee_id is not None,
            "unassign": not archived and device.assignee_id is not None,
            "return-to-stock": not archived and device.availability_status != AvailabilityStatus.IN_STOCK,
            "archive": not archived,
            "restore": archived,
        }[self.slug]


MOVES = {
    move.slug: move
    for move in (
        Move("assign", gettext_lazy("Assign"), services.device_assign, needs_employee=True),
        Move("reassign", gettext_lazy("Reassign"), services.device_reassign, needs_employee=True, offers_wipe=True),
        Move("unassign", gettext_lazy("Unassign"), services.device_unassign, offers_wipe=True),
        Move("return-to-stock", gettext_lazy("Return to stock"), services.device_return_to_stock, offers_wipe=True),
        Move("archive", gettext_lazy("Archive"), services.device_archive, offers_wipe=True, offers_removal=True,
             danger=True),
        Move("restore", gettext_lazy("Restore"), services.device_restore),
    )
}


@require_safe
def device_detail(request, org_slug, pk):
    device = _get_device(request, pk)
    context = {
        "device": device,
        "moves": [m for m in MOVES.values() if m.allowed(device)],
        "events": AuditEvent.objects.for_org(request.organization).for_target(device)[:100],
        "issues": issue_help(device.enrollment_issues),
        "now": timezone.now(),
        "panels": device_panels.panels_for(request, device),  # added by enrollment, assignment, offboarding
        "commands": device_commands(device=device),
    }
    return render(request, "devices/device_detail.html", context)


def _move_arguments(spec: Move, data: dict) -> dict:
    arguments = {"reason": data.get("reason", ""), "expected_version": data["version"]}
    if spec.needs_employee:
        arguments["employee"] = data["employee"]
    if spec.offers_wipe:
        arguments["wipe"] = data.get("wipe", False)
    if spec.offers_removal:
        arguments["remove_from_fleet"] = data.get("remove_from_fleet", False)
    return arguments


@require_role("can_act_on_devices")
def device_move(request, org_slug, pk, move):
    device = _get_device(request, pk)
    spec = MOVES.get(move)
    if spec is None:
        raise Http404(_("No such action"))
    initial = {"version": device.version, "wipe": spec.wipe_by_default(device)}
    form = DeviceMoveForm(
        request.POST or None, initial=initial, organization=request.organization,
        needs_employee=spec.needs_employee, offers_wipe=spec.offers_wipe,
        offers_removal=spec.offers_removal and device.fleet_host_id is not None,
    )
    warnings = []
    if request.method == "POST" and form.is_valid():
        employee = form.cleaned_data.get("employee")
        if employee is not None:
            warnings = rules.leaving_warnings_for(organization=request.organization, employee=employee)
        if warnings and not form.cleaned_data.get("leaving_confirmed"):
            # Shown first, with the form marked confirmed: submitting it again does the move.
            form.data = form.data.copy()
            form.data["leaving_confirmed"] = "on"
        else:
            moved = call_service(form, lambda data: spec.service(
                device=device, actor=actor_for(request), source=Source.MANUAL, **_move_arguments(spec, data)
            ))
            if moved:
                messages.success(request, _("%(move)s: done for %(device)s.") % {"move": spec.title, "device": moved})
                for warning in warnings:
                    messages.warning(request, warning["detail"])
                return redirect("device_detail", org_slug=org_slug, pk=moved.pk)
    error = getattr(form, "domain_error", None)
    status = error.status if error else (400 if form.errors else 200)
    employees = []
    if spec.needs_employee:
        employees = Employee.objects.for_org(request.organization).filter(status=Employee.Status.ACTIVE).only(
            "email", "full_name"
        )[:5000]
    return render(
        request, "devices/device_move.html",
        {"device": device, "move": spec, "form": form, "employees": employees, "warnings": warnings},
        status=status,
    )


def _get_command(request, pk) -> DeviceCommand:
    return org_object_or_404(request, DeviceCommand.objects.select_related("device"), pk=pk)


@require_role("can_act_on_devices")
@require_POST
def command_retry(request, org_slug, pk):
    command = _get_command(request, pk)
    run_action(request, lambda: commands.command_retry(command=command, actor=actor_for(request)),
               _("%(command)s of %(device)s will be sent to Fleet again.") % {
                   "command": command.get_kind_display(), "device": command.device})
    return redirect("device_detail", org_slug=org_slug, pk=command.device_id)


@require_role("can_act_on_devices")
@require_POST
def command_hand_over(request, org_slug, pk):
    command = _get_command(request, pk)
    try:
        done = handover.command_hand_over(command=command, actor=actor_for(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        command.refresh_from_db()
        if done:
            messages.success(request, _("%(device)s was handed over.") % {"device": command.device})
        else:
            messages.error(request, command.readable_hand_over_note)
    return redirect("device_detail", org_slug=org_slug, pk=command.device_id)


@require_safe
@never_cache
def device_lookup(request, org_slug):
    """The filters' device picker: ``?q=`` part of a name or serial number, at most 20 of the organization's
    devices, ``{"results": [{"id", "label", "detail"}]}``."""
    return JsonResponse({"results": device_choices(organization=request.organization, query=request.GET.get("q"))})
