"""Cockpit pages of pre-assignment and CSV import (mounted under /o/<org_slug>/)."""

import csv

from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from assignment import services
from assignment.csv_import import ACTION_LABELS, TEMPLATE_HEADER, row_message
from assignment.filtersets import PreAssignmentFilterSet
from assignment.forms import CsvCommitForm, CsvUploadForm, PreAssignmentForm, SettleForm
from assignment.models import CsvImport, PreAssignment
from assignment.selectors import (
    StoredRows,
    csv_import_list,
    csv_import_rows_in_error,
    csv_import_warned_rows,
    pre_assignment_list,
)
from assignment.services import csv_imports
from core.audit import Source
from core.errors import DomainError
from core.exports import formula_safe
from core.jobs import Job, job_for_target
from core.models import AuditEvent
from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role, run_action
from devices import rules
from devices.models import AvailabilityStatus, Device

# --- pre-assignments -------------------------------------------------------------------------


@require_safe
def preassignment_list(request, org_slug):
    queryset = pre_assignment_list(organization=request.organization)
    filterset, rows = filterset_for(PreAssignmentFilterSet, request, queryset)
    return render(request, "assignment/preassignment_list.html", {"filter": filterset, "page": paginate(request, rows)})


def _get(request, pk) -> PreAssignment:
    return org_object_or_404(request, pre_assignment_list(organization=request.organization), pk=pk)


def _form_status(form) -> int:
    error = getattr(form, "domain_error", None)
    return error.status if error else (400 if form.errors else 200)


@require_role("can_act_on_devices")
def preassignment_create(request, org_slug):
    form = PreAssignmentForm(request.POST or None, organization=request.organization,
                             initial={"serial_number": request.GET.get("serial", "")})
    if request.method == "POST" and form.is_valid():
        pa = call_service(form, lambda data: services.pre_assignment_create(
            organization=request.organization, actor=actor_for(request), source=Source.MANUAL,
            groups=list(data.pop("groups")), **data,
        ))
        if pa:
            messages.success(request, _outcome_message(pa))
            _warn_if_leaving(request, pa)
            return redirect("preassignment_detail", org_slug=org_slug, pk=pa.pk)
    return render(request, "assignment/preassignment_form.html", {"form": form}, status=_form_status(form))


def _warn_if_leaving(request, pa: PreAssignment) -> None:
    """Saved all the same; the person should know the employee is on their way out."""
    for warning in rules.leaving_warnings_for(organization=request.organization, employee=pa.employee):
        messages.warning(request, warning["detail"])


def _outcome_message(pa: PreAssignment) -> str:
    text = {
        PreAssignment.Status.WAITING: gettext("%(serial)s is pre-assigned to %(email)s, awaiting the device."),
        PreAssignment.Status.APPLIED: gettext("The device %(serial)s was here: it is now assigned to %(email)s."),
        PreAssignment.Status.CONFLICT: gettext("The device %(serial)s belongs to someone else: settle the conflict."),
    }.get(pa.status, gettext("Saved."))
    return text % {"serial": pa.serial_number, "email": pa.employee.email} if "%(" in text else text


@require_safe
def preassignment_detail(request, org_slug, pk):
    pa = _get(request, pk)
    events = AuditEvent.objects.for_org(request.organization).for_target(pa)[:50]
    # "Apply now" only helps once the device is in the inventory; before that it can only fail.
    device_here = pa.status == PreAssignment.Status.WAITING and Device.objects.for_org(request.organization).filter(
        serial_number=pa.serial_number).exclude(availability_status=AvailabilityStatus.ARCHIVED).exists()
    leaving = rules.leaving_warnings_for(organization=request.organization, employee=pa.employee) \
        if pa.is_active else []
    return render(request, "assignment/preassignment_detail.html",
                  {"pa": pa, "events": events, "settle_form": SettleForm(), "device_here": device_here,
                   "leaving": leaving})


@require_role("can_act_on_devices")
def preassignment_edit(request, org_slug, pk):
    pa = _get(request, pk)
    initial = {"serial_number": pa.serial_number, "employee": pa.employee.email, "groups": list(pa.groups.all()),
               "domain_name": pa.domain_name, "ownership": pa.ownership}
    form = PreAssignmentForm(request.POST or None, initial=initial, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, lambda data: services.pre_assignment_update(
            pre_assignment=pa, actor=actor_for(request), groups=list(data.pop("groups")), **data,
        ))
        if updated:
            messages.success(request, _outcome_message(updated))
            _warn_if_leaving(request, updated)
            return redirect("preassignment_detail", org_slug=org_slug, pk=pa.pk)
    return render(request, "assignment/preassignment_form.html", {"form": form, "pa": pa}, status=_form_status(form))


def _act(request, pa, call, success: str):
    run_action(request, call, success)
    return redirect("preassignment_detail", org_slug=request.organization.slug, pk=pa.pk)


@require_role("can_act_on_devices")
@require_POST
def preassignment_cancel(request, org_slug, pk):
    pa = _get(request, pk)
    return _act(request, pa, lambda: services.pre_assignment_cancel(pre_assignment=pa, actor=actor_for(request)),
                gettext("The pre-assignment of %(serial)s was cancelled.") % {"serial": pa.serial_number})


@require_role("can_act_on_devices")
@require_POST
def preassignment_apply(request, org_slug, pk):
    pa = _get(request, pk)
    if run_action(request, lambda: services.pre_assignment_apply(pre_assignment=pa, actor=actor_for(request)),
                  lambda _outcome: _outcome_message(_get(request, pk))) is not None:
        _warn_if_leaving(request, pa)
    return redirect("preassignment_detail", org_slug=org_slug, pk=pa.pk)


@require_role("can_act_on_devices")
def preassignment_settle(request, org_slug, pk):
    pa = _get(request, pk)
    form = SettleForm(request.POST or None, pre_assignment=pa)
    if request.method == "POST" and form.is_valid():
        settled = call_service(form, lambda data: services.pre_assignment_settle(
            pre_assignment=pa, actor=actor_for(request), decision=data["decision"], wipe=data["wipe"],
        ))
        if settled:
            outcome = settled.get_status_display().lower()
            messages.success(request, gettext("The conflict on %(serial_number)s is settled (%(outcome)s).") % {
                "serial_number": pa.serial_number, "outcome": outcome})
            return redirect("preassignment_detail", org_slug=org_slug, pk=pa.pk)
    return render(request, "assignment/preassignment_settle.html", {"pa": pa, "form": form},
                  status=_form_status(form))


# --- CSV import ------------------------------------------------------------------------------


class LimitedUploadHandler(FileUploadHandler):
    """Stops an upload as soon as it passes the limit (when no Content-Length announced it)."""

    def __init__(self, request=None, limit: int = 0):
        super().__init__(request)
        self.limit, self.received = limit, 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def declared_too_large(request) -> bool:
    """The request announces more bytes than a CSV may have (plus room for the form around it)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > services.csv_max_bytes() + 64 * 1024


@csrf_exempt  # checked by _upload below, once the size is known to be acceptable
@require_role("can_manage_people")
def csvimport_new(request, org_slug):
    """Upload a CSV. Its size is checked from Content-Length before a byte of the body is read."""
    if request.method == "POST":
        if declared_too_large(request):
            return _upload_page(request, CsvUploadForm(), error=services.size_message(), status=413)
        request.upload_handlers.insert(0, LimitedUploadHandler(request, services.csv_max_bytes()))
    return _upload(request, org_slug)


@csrf_protect
def _upload(request, org_slug):
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method != "POST":
        return _upload_page(request, form)
    if getattr(request, "upload_too_large", False):
        return _upload_page(request, CsvUploadForm(), error=services.size_message(), status=413)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:  # a large file is only parsed and stored here: a job analyses it (the preview page shows its progress)
        submission = services.csv_import_submit(
            organization=request.organization, actor=actor_for(request), data=upload.read(), filename=upload.name,
            kind=form.cleaned_data["kind"], source=Source.CSV_IMPORT, dry_run=True, analyse_all=False,
        )
    except DomainError as exc:  # an unreadable file (400), or no job queue for a large one (503)
        return _upload_page(request, form, error=exc.message, status=exc.status)
    return redirect("csvimport_detail", org_slug=org_slug, pk=submission.record.pk)


def _upload_page(request, form, *, error: str = "", status: int = 200):
    context = {
        "form": form, "error": error, "imports": csv_import_list(organization=request.organization)[:10],
        "template_header": TEMPLATE_HEADER, "max_mb": services.csv_max_bytes() // (1024 * 1024),
        "max_rows": services.csv_max_rows(), "sync_max_rows": services.csv_sync_max_rows(),
    }
    return render(request, "assignment/csvimport_new.html", context, status=status)


@require_role("can_manage_people")
@require_safe
def csvimport_template(request, org_slug):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="pre-assignments-template.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with its byte-order mark
    csv.writer(response).writerow(TEMPLATE_HEADER)
    return response


ROWS_PER_PAGE = 100


@require_role("can_manage_people")
@require_safe
def csvimport_detail(request, org_slug, pk):
    """Progress while the rows are analysed or committed, then the preview, then the result. A large file's job
    shows its progress bar (``core/job_progress.html``); an import no job works on is analysed here a chunk per
    visit (the page refreshes itself)."""
    record = org_object_or_404(request, CsvImport, pk=pk)
    job = job_for_target(organization=request.organization, target=record)
    if record.status == CsvImport.Status.ANALYSING and (job is None or job.is_over):
        record = services.csv_import_analyse(csv_import=record, chunk=csv_imports.ANALYSE_CHUNK)
    return _detail_page(request, record, job=job)


def _detail_page(request, record, *, error: str = "", status: int = 200, job=None):
    if job is None:
        job = job_for_target(organization=request.organization, target=record)
    action = request.GET.get("action", "")
    page = Paginator(StoredRows(record, action), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row["action_label"] = ACTION_LABELS.get(row.get("action"), "…")
    context = {
        "record": record, "page": page, "action": action, "error": error, "commit_form": CsvCommitForm(),
        "counts": sorted((k, v) for k, v in record.counts.items() if k != "new_employees"),
        "action_labels": ACTION_LABELS,
        "result_summary": services.import_summary(record.result) if record.result else "",
        "percent": int(100 * record.processed_rows / record.row_count) if record.row_count else 100,
        "warning_rows": csv_import_warned_rows(record) if record.status != CsvImport.Status.ANALYSING else 0,
        # The job working on it now (a progress bar instead of the form), or the last one, failed (its reason).
        "job": job if job is not None and not job.is_over else None,
        "job_failed": job if job is not None and job.status in (Job.Status.FAILED, Job.Status.ABANDONED)
        and record.status in (CsvImport.Status.PREVIEWED, CsvImport.Status.ANALYSING) else None,
    }
    return render(request, "assignment/csvimport_detail.html", context, status=status)


@require_role("can_manage_people")
@require_POST
def csvimport_commit(request, org_slug, pk):
    record = org_object_or_404(request, CsvImport, pk=pk)
    form = CsvCommitForm(request.POST)
    form.is_valid()
    options = {"skip_errors": form.cleaned_data.get("skip_errors", False), "wipe": form.cleaned_data.get("wipe", False)}
    try:
        if services.csv_import_runs_as_job(record):  # a large file: committed by a job, its progress on the page
            services.csv_import_commit_queue(csv_import=record, actor=actor_for(request), **options)
            messages.info(request, _("The commit has started: this page shows its progress."))
            return redirect("csvimport_detail", org_slug=org_slug, pk=pk)
        result = services.csv_import_commit(csv_import=record, actor=actor_for(request), **options)
    except DomainError as exc:
        return _detail_page(request, org_object_or_404(request, CsvImport, pk=pk), error=exc.message, status=exc.status)
    messages.success(request, gettext("Import committed: %(import_summary)s.") % {
        "import_summary": services.import_summary(result)})
    warned = csv_import_warned_rows(org_object_or_404(request, CsvImport, pk=pk))
    if warned:
        messages.warning(request, ngettext(
            "%(count)d row named an employee whose offboarding is under way: see its warning below.",
            "%(count)d rows named employees whose offboarding is under way: see their warnings below.", warned,
        ) % {"count": warned})
    return redirect("csvimport_detail", org_slug=org_slug, pk=pk)


@require_role("can_manage_people")
@require_POST
def csvimport_discard(request, org_slug, pk):
    record = org_object_or_404(request, CsvImport, pk=pk)
    if run_action(request, lambda: services.csv_import_discard(csv_import=record, actor=actor_for(request)),
                  gettext("The import was discarded; nothing was changed.")) is None:
        return redirect("csvimport_detail", org_slug=org_slug, pk=pk)
    return redirect("csvimport_new", org_slug=org_slug)


@require_role("can_manage_people")
@require_safe
def csvimport_rejected(request, org_slug, pk):
    """The rows in error, as the file had them, with an Error column: fix and upload them again."""
    record = org_object_or_404(request, CsvImport, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{record.pk}-rejected.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    titles = [title or f"Column {i + 1}" for i, title in enumerate(record.header)]
    writer.writerow([*titles, "Error"])
    for row in csv_import_rows_in_error(record):
        cells = row["cells"] + [""] * (len(titles) - len(row["cells"]))
        writer.writerow([formula_safe(cell) for cell in cells] + [formula_safe(row_message(row))])
    return response


urlpatterns = [
    path("pre-assignments/", preassignment_list, name="preassignment_list"),
    path("pre-assignments/new/", preassignment_create, name="preassignment_create"),
    path("pre-assignments/<int:pk>/", preassignment_detail, name="preassignment_detail"),
    path("pre-assignments/<int:pk>/edit/", preassignment_edit, name="preassignment_edit"),
    path("pre-assignments/<int:pk>/cancel/", preassignment_cancel, name="preassignment_cancel"),
    path("pre-assignments/<int:pk>/apply/", preassignment_apply, name="preassignment_apply"),
    path("pre-assignments/<int:pk>/settle/", preassignment_settle, name="preassignment_settle"),
    path("pre-assignments/import/", csvimport_new, name="csvimport_new"),
    path("pre-assignments/import/template.csv", csvimport_template, name="csvimport_template"),
    path("pre-assignments/import/<int:pk>/", csvimport_detail, name="csvimport_detail"),
    path("pre-assignments/import/<int:pk>/commit/", csvimport_commit, name="csvimport_commit"),
    path("pre-assignments/import/<int:pk>/discard/", csvimport_discard, name="csvimport_discard"),
    path("pre-assignments/import/<int:pk>/rejected.csv", csvimport_rejected, name="csvimport_rejected"),
]
