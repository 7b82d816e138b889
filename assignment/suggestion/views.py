"""Cockpit pages of assignment suggestion: review queue, settings and the "what would auto do" preview."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import formats
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST, require_safe

from assignment.suggestion import services
from assignment.suggestion.filtersets import SuggestionFilterSet
from assignment.suggestion.forms import SuggestionBulkForm, SuggestionRejectForm, SuggestionSettingsForm
from assignment.suggestion.models import Suggestion, SuggestionRun
from assignment.suggestion.scoring import KIND_LABELS
from assignment.suggestion.selectors import auto_mode_preview, suggestion_queryset, suggestion_runs
from core.services import organization_update_settings
from core.web import actor_for, call_service, filterset_for, org_object_or_404, paginate, require_role, run_action

PREVIEW_ROWS = 200
RECENT_RUNS = 5


@require_safe
def suggestion_list(request, org_slug):
    """The review queue: pending suggestions by default, filterable like the API."""
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = Suggestion.Status.PENDING
    request.GET = params
    queryset = suggestion_queryset(organization=request.organization)
    filterset, rows = filterset_for(SuggestionFilterSet, request, queryset)
    context = {"filter": filterset, "page": paginate(request, rows), "kind_labels": KIND_LABELS,
               "mode": request.organization.get_assignment_suggestion_mode_display(),
               "runs": list(suggestion_runs(organization=request.organization)[:RECENT_RUNS])}
    return render(request, "assignment/suggestion_list.html", context)


def _get(request, pk) -> Suggestion:
    return org_object_or_404(request, suggestion_queryset(organization=request.organization), pk=pk)


def _back(request, org_slug):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("suggestion_list", org_slug=org_slug)


@require_role("can_act_on_devices")
@require_POST
def suggestion_accept(request, org_slug, pk):
    suggestion = _get(request, pk)
    run_action(request, lambda: services.suggestion_accept(suggestion=suggestion, actor=actor_for(request)),
               gettext("%(device)s was assigned to %(employee)s.") % {
                   "device": suggestion.device, "employee": suggestion.employee.display_name})
    return _back(request, org_slug)


@require_role("can_act_on_devices")
@require_POST
def suggestion_reject(request, org_slug, pk):
    suggestion = _get(request, pk)
    form = SuggestionRejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    run_action(request, lambda: services.suggestion_reject(suggestion=suggestion, actor=actor_for(request),
                                                           reason=reason),
               gettext("Rejected: %(device)s will not be suggested for %(employee)s again on the same evidence.") % {
                   "device": suggestion.device, "employee": suggestion.employee.display_name})
    return _back(request, org_slug)


@require_role("can_act_on_devices")
@require_POST
def suggestion_bulk(request, org_slug):
    form = SuggestionBulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(request, org_slug)
    result = call_service(form, lambda data: services.suggestions_decide_bulk(
        organization=request.organization, actor=actor_for(request), **data
    ))
    if result is None:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(request, org_slug)
    done = result.get("accepted", result.get("rejected"))
    if "accepted" in result:
        done_text = ngettext("%(count)d suggestion accepted.", "%(count)d suggestions accepted.", done)
    else:
        done_text = ngettext("%(count)d suggestion rejected.", "%(count)d suggestions rejected.", done)
    messages.success(request, done_text % {"count": done})
    for pk, message in result["failed"].items():
        messages.error(request, gettext("Suggestion #%(pk)s: %(message)s") % {"pk": pk, "message": message})
    return _back(request, org_slug)


@require_role("can_act_on_devices")
@require_POST
def suggestion_refresh(request, org_slug):
    """Run the scoring now (the same bulk run as after each sync)."""
    counts = services.suggestions_refresh(organization=request.organization, actor=actor_for(request),
                                          trigger=SuggestionRun.Trigger.MANUAL)
    if counts.get("mode") == "off":
        messages.error(request, gettext("Assignment suggestion is off for this organization; turn it on in its "
                                        "settings."))
    elif counts.get("skipped") or counts.get("lost"):
        messages.error(request, gettext("A run is already in progress; its results show here in a moment."))
    else:
        if "auto_assigned" in counts:
            text = gettext("%(created)d new suggestion(s), %(superseded)d withdrawn, %(auto_assigned)d device(s) "
                           "assigned automatically.")
        else:
            text = gettext("%(created)d new suggestion(s), %(superseded)d withdrawn.")
        messages.success(request, text % counts)
        if counts.get("auto_held"):
            messages.info(request, ngettext(
                "%(count)d phone or tablet is left for you to accept: auto mode never assigns them.",
                "%(count)d phones and tablets are left for you to accept: auto mode never assigns them.",
                counts["auto_held"]) % {"count": counts["auto_held"]})
    return redirect("suggestion_list", org_slug=org_slug)


@require_role("can_manage_settings")
def suggestion_settings(request, org_slug):
    """Mode and threshold, with what ``auto`` would assign now (``?threshold=`` previews another value)."""
    organization = request.organization
    initial = {"assignment_suggestion_mode": organization.assignment_suggestion_mode,
               "suggestion_confidence_threshold": organization.suggestion_confidence_threshold}
    form = SuggestionSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, lambda data: organization_update_settings(
            organization=organization, actor=actor_for(request), **data
        ))
        if saved:
            messages.success(request, gettext("Assignment suggestion: %(mode)s, threshold %(threshold)s.") % {
                "mode": saved.get_assignment_suggestion_mode_display(),
                "threshold": formats.number_format(saved.suggestion_confidence_threshold, 2)})
            return redirect("suggestion_settings", org_slug=org_slug)
    threshold = organization.suggestion_confidence_threshold
    asked = request.GET.get("threshold", "")
    try:
        threshold = min(max(float(asked), 0.5), 1.0) if asked else threshold
    except ValueError:
        messages.error(request, gettext("“%(asked)s” is not a threshold; showing the saved one.") % {"asked": asked})
    preview = auto_mode_preview(organization=organization, threshold=threshold)
    context = {"form": form, "preview": preview.assign[:PREVIEW_ROWS], "preview_total": len(preview.assign),
               "held": preview.held[:PREVIEW_ROWS], "held_total": len(preview.held),
               "threshold": threshold, "kind_labels": KIND_LABELS}
    return render(request, "assignment/suggestion_settings.html", context, status=400 if form.errors else 200)


urlpatterns = [
    path("suggestions/", suggestion_list, name="suggestion_list"),
    path("suggestions/bulk/", suggestion_bulk, name="suggestion_bulk"),
    path("suggestions/refresh/", suggestion_refresh, name="suggestion_refresh"),
    path("suggestions/<int:pk>/accept/", suggestion_accept, name="suggestion_accept"),
    path("suggestions/<int:pk>/reject/", suggestion_reject, name="suggestion_reject"),
    path("settings/suggestions/", suggestion_settings, name="suggestion_settings"),
]
