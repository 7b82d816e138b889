"""Cockpit pages of the inventory: list (with CSV export), add, device page, status moves."""

import csv
import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.cache import cache
from django.forms import ModelChoiceField, Select
from django.forms.models import ModelChoiceIterator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import avoid_wrapping, escape
from django.utils.safestring import mark_safe
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe
from django_filters.fields import ModelChoiceIterator as FilterModelChoiceIterator

from core.audit import Source
from core.errors import DomainError
from core.models import AuditEvent, Employee
from core.paging import COUNT_TTL_SECONDS, GENERATION_MODELS, PagedQuerySet, org_generation_key
from core.panels import device_panels
from core.renderers import fast_widget_renderer
from core.templatetags.cockpit import badge
from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role, run_action
from devices import commands, handover, services
from devices.filtersets import DeviceFilterSet, InventoryFilterSet
from devices.forms import DeviceForm, DeviceMoveForm
from devices.issues import issue_help
from devices.models import AvailabilityStatus, Device, DeviceCommand
from devices.selectors import (
    assignment_warnings,
    device_commands,
    device_queryset,
    inventory_page_fetcher,
    inventory_page_rows,
    with_group_names,
)

KNOWN_MODEL_ITERATORS = (ModelChoiceIterator, FilterModelChoiceIterator)


@require_safe
def device_list(request, org_slug):
    filterset, rows = filterset_for(InventoryFilterSet, request, device_queryset(organization=request.organization))
    counted = PagedQuerySet(
        rows, organization_id=request.organization.pk, list_name="devices", params=request.GET,
        page_rows=inventory_page_rows, fetch_page=inventory_page_fetcher(organization_id=request.organization.pk),
    )
    page = paginate(request, counted)
    page.object_list = with_group_names(page.object_list)
    context = {
        "filter": filterset,
        "filters_html": filters_html(request, filterset),
        "page": page,
        "rows": device_rows_html(page.object_list, request.organization),
    }
    return render(request, "devices/device_list.html", context)


FILTER_FORM_IGNORED_PARAMS = {"page"}


def filters_html(request, filterset) -> str:
    """``_filters.html`` for this query string, cached for the organization's data generation.

    The form shows the query string's values, the organization's groups and the errors of values that
    name nothing (an unknown group or assignee): all of it changes only with the query string or a write
    to the organization's devices, employees or groups, which starts a new generation. Rendered, its
    widgets are written in Python (:class:`core.renderers.FastWidgetRenderer`)."""
    pairs = sorted((k, v) for k, values in request.GET.lists() if k not in FILTER_FORM_IGNORED_PARAMS for v in values)
    digest = hashlib.sha256(repr((get_language(), pairs)).encode()).hexdigest()[:32]
    key = org_generation_key(request.organization.pk, f"device-filters:{digest}")
    html_text = cache.get(key)
    if html_text is None:
        if filterset.form_fields is not None:  # a form of some filters only: the page shows them all
            filterset = DeviceFilterSet(filterset.data if filterset.is_bound else None, queryset=filterset.queryset,
                                        request=request)
        form = filterset.form
        form.renderer = fast_widget_renderer
        read_model_choices(form, organization_id=request.organization.pk)
        html_text = get_template("_filters.html").render({"filter": filterset})  # it needs nothing else
        cache.set(key, html_text, COUNT_TTL_SECONDS)
    return mark_safe(html_text)  # noqa: S308 (rendered by the template engine above)


def read_model_choices(form, *, organization_id) -> None:
    """Gives each model select of ``form`` the very options Django's ``ModelChoiceIterator`` yields, without
    its server-side cursor (DECLARE, FETCH, CLOSE on PostgreSQL: three round trips for eight groups): from
    the cache when the options come from the organization's devices, employees or groups only (cached for
    their data generation, so a new or renamed group shows at once), else from one plain query. Only the
    widget's options change; the field still validates against its queryset."""
    for field in form.fields.values():
        if not (isinstance(field, ModelChoiceField) and isinstance(field.widget, Select)):
            continue  # the assignee filter is a text box: its thousands of employees are never listed
        if field.iterator not in KNOWN_MODEL_ITERATORS or hasattr(field, "_choices"):
            continue
        choices = [] if field.empty_label is None else [("", field.empty_label)]
        if getattr(field, "null_label", None) is not None:  # django-filters' null choice comes second
            choices.append((field.null_value, field.null_label))
        field.widget.choices = choices + _model_options(field, organization_id)


def _model_options(field, organization_id) -> list:
    queryset = field.queryset
    if queryset.model._meta.label_lower not in GENERATION_MODELS:
        iterator = field.iterator(field)
        return [iterator.choice(obj) for obj in queryset]
    sql, params = queryset.query.sql_with_params()
    digest = hashlib.sha256(repr((type(field).__qualname__, field.to_field_name, sql, params)).encode()).hexdigest()
    key = org_generation_key(organization_id, f"options:{digest[:32]}")
    options = cache.get(key)
    if options is None:
        options = [(field.prepare_value(obj), field.label_from_instance(obj)) for obj in queryset]
        cache.set(key, options, COUNT_TTL_SECONDS)
    return options


def _url_maker(name: str, org_slug: str) -> Callable[[int], str]:
    """``pk -> reverse(name, org_slug, pk)`` with one ``reverse()`` per page instead of one per row."""
    sentinel = 987654321
    prefix, suffix = reverse(name, args=[org_slug, sentinel]).rsplit(str(sentinel), 1)
    prefix, suffix = escape(prefix), escape(suffix)
    return lambda pk: f"{prefix}{int(pk)}{suffix}"


def _choice_labels(field_name: str) -> dict:
    return {value: str(label) for value, label in Device._meta.get_field(field_name).flatchoices}


def device_rows_html(devices, organization) -> str:
    """The inventory table's rows, built in Python: 50 rows through the template engine cost more than the
    rest of the page together (measured in benchmarks/). ``tests/devices/test_list_paths.py`` holds this
    markup equal to the template it replaces, row for row."""
    device_url = _url_maker("device_detail", organization.slug)
    employee_url = _url_maker("employee_detail", organization.slug)
    labels = {name: _choice_labels(name) for name in ROW_CHOICE_FIELDS}  # get_FOO_display() without its cost
    badges = {}

    def status(field_name, value):
        key = (field_name, value)
        if key not in badges:
            badges[key] = badge(value, labels[field_name].get(value, value))
        return badges[key]

    now = timezone.now()
    time_strings = PageTimeStrings()
    rows = []
    for device in devices:
        assignee = device.assignee
        if assignee:
            owner = f'<a href="{employee_url(device.assignee_id)}">{_escape(assignee.display_name)}</a>'
        elif device.usage == "shared":
            technician = device.responsible_technician
            who = f" · {_escape(technician.get_username())}" if technician else ""
            owner = f'<span class="muted">Shared{who}</span>'
        else:
            owner = "—"
        groups = "".join(f'<span class="tag">{_escape(name)}</span>' for name in device.group_names)
        platform = labels["platform"].get(device.platform, device.platform)
        rows.append(
            "<tr>"
            f'<td class="primary"><a href="{device_url(device.pk)}">{_escape(device.name or "(no name)")}</a></td>'
            f'<td class="mono nowrap">{_escape(device.serial_number or "—")}</td>'
            f"<td>{_escape(platform)}</td>"
            f"<td>{status('availability_status', device.availability_status)}</td>"
            f"<td>{status('assignment_status', device.assignment_status)}</td>"
            f"<td>{status('enrollment_status', device.enrollment_status)}</td>"
            f"<td>{owner}</td>"
            f"<td>{groups}</td>"
            f'<td class="nowrap">{_escape(last_seen(device.last_seen_at, now, time_strings))}</td>'
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)


def last_seen(value, now, time_strings=None) -> str:
    """The ``ago`` template filter (``timesince(value).split(",")[0] + " ago"``), computing only the first unit,
    the one it keeps, against one ``now`` for the page (and its :class:`PageTimeStrings`)."""
    if not value:
        return "never"
    if time_strings is not None:
        text = time_strings.since(value, now)
        if text is not None:
            return f"{text} ago"
    return f"{timesince(value, now, depth=1, time_strings=time_strings)} ago"


# timesince's units below a month, largest first (its TIME_CHUNKS).
WEEK_DAY_HOUR_MINUTE = (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60))
SHORTEST_MONTH_SECONDS = 28 * 86_400


class _TranslatedOnce:
    """One of ``timesince``'s lazy unit strings: ``% {"num": n}`` translated once per ``n``."""

    __slots__ = ("lazy", "texts")

    def __init__(self, lazy):
        self.lazy, self.texts = lazy, {}

    def __mod__(self, params):
        num = params["num"]
        text = self.texts.get(num)
        if text is None:
            text = self.texts[num] = self.lazy % params
        return text


class PageTimeStrings(dict):
    """``timesince``'s ``TIME_STRINGS`` for one page (one language): fifty rows say "3 days" with one
    translation lookup instead of fifty."""

    def __missing__(self, name):
        strings = self[name] = _TranslatedOnce(TIME_STRINGS[name])
        return strings

    def since(self, value, now) -> str | None:
        """``timesince(value, now, depth=1)`` when less than 28 days lie between them, else None (then months
        and years, counted on the calendar, may come in: ``timesince`` itself answers). Below 28 days no
        calendar month fits, so ``timesince``'s first unit is the largest of weeks, days, hours and minutes that
        the elapsed seconds hold; nothing (under a minute, or ``value`` ahead of ``now``) reads "0 minutes"."""
        delta = now - value
        since = delta.days * 86_400 + delta.seconds  # timesince ignores the microseconds here…
        if since >= SHORTEST_MONTH_SECONDS:
            return None
        if since > 0:
            elapsed = delta.total_seconds()  # …and counts the units on the exact difference
            for name, seconds in WEEK_DAY_HOUR_MINUTE:
                count = int(elapsed // seconds)
                if count:
                    return avoid_wrapping(self[name] % {"num": count})
        return avoid_wrapping(self["minute"] % {"num": 0})


ROW_CHOICE_FIELDS = ("platform", "availability_status", "assignment_status", "enrollment_status")


def _escape(text) -> str:
    """Django's ``escape()`` (the same entities) without its lazy-string wrapper, for plain text."""
    return html.escape(str(text))


# --- CSV export ------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


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
            messages.success(request, f"{device} was added to the inventory, in stock.")
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
            messages.success(request, f"{updated} was updated.")
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
        Move("assign", "Assign", services.device_assign, needs_employee=True),
        Move("reassign", "Reassign", services.device_reassign, needs_employee=True, offers_wipe=True),
        Move("unassign", "Unassign", services.device_unassign, offers_wipe=True),
        Move("return-to-stock", "Return to stock", services.device_return_to_stock, offers_wipe=True),
        Move("archive", "Archive", services.device_archive, offers_wipe=True, offers_removal=True, danger=True),
        Move("restore", "Restore", services.device_restore),
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
        raise Http404("No such action")
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
            warnings = assignment_warnings(organization=request.organization, employee=employee)
        if warnings and not form.cleaned_data.get("leaving_confirmed"):
            # Shown first, with the form marked confirmed: submitting it again does the move.
            form.data = form.data.copy()
            form.data["leaving_confirmed"] = "on"
        else:
            moved = call_service(form, lambda data: spec.service(
                device=device, actor=actor_for(request), source=Source.MANUAL, **_move_arguments(spec, data)
            ))
            if moved:
                messages.success(request, f"{spec.title}: done for {moved}.")
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
            messages.error(request, command.hand_over_note)
    return redirect("device_detail", org_slug=org_slug, pk=command.device_id)
