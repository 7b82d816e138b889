"""Suggestion's audit events, after-sync step and panels, connected from ``AssignmentConfig.ready``."""

from core.audit import register_events

EVENTS = {
    "suggestion.refreshed": "{actor} computed assignment suggestions ({after[mode]} mode): {after[created]} new, "
    "{after[superseded]} withdrawn",
    "suggestion.accepted": "{actor} accepted the suggestion to assign {target} to {after[employee]} "
    "(confidence {after[confidence]})",
    "suggestion.auto_assigned": "{actor} assigned {target} to {after[employee]} automatically "
    "(suggestion, confidence {after[confidence]})",
    "suggestion.rejected": "{actor} rejected the suggestion to assign {target} to {after[employee]}",
}


def after_sync_suggestions(*, organization, run, device_ids, actor) -> dict:
    """After each sync: one bulk scoring run, inline (a fixed number of reads; see benchmarks/bench_suggestion.py)."""
    from assignment.suggestion_services import suggestions_refresh

    return suggestions_refresh(organization=organization, actor=actor)


def withdraw_leaver_suggestions(*, employee, actor) -> dict:
    from assignment.suggestion_services import suggestions_withdraw_for_employee

    return {"suggestions_withdrawn": suggestions_withdraw_for_employee(employee=employee, actor=actor)}


def device_suggestion_panel(request, device):
    """The device page: the pending suggestion, its evidence, and accept / reject."""
    from assignment.scoring import KIND_LABELS
    from assignment.suggestion_selectors import pending_suggestion_for_device
    from core.panels import Panel

    if device.assignee_id is not None or device.is_archived or device.usage == "shared":
        return None
    suggestion = pending_suggestion_for_device(organization=request.organization, device=device)
    if suggestion is None:
        return None
    return Panel(template="assignment/suggestion_panel.html", title="Assignment suggestion",
                 context={"suggestion": suggestion, "kind_labels": KIND_LABELS})


def connect() -> None:
    from core.hooks import employee_offboarded
    from core.panels import device_panels
    from mdm_sync.hooks import after_sync

    register_events(EVENTS)
    after_sync.register(after_sync_suggestions, order=50, name="assignment.suggestions")
    employee_offboarded.register(withdraw_leaver_suggestions, order=50, name="assignment.suggestions_withdraw")
    device_panels.register(device_suggestion_panel, order=50)
