"""Suggestion's part of the wiring: its hook steps, connected (with its panel) by ``assignment.wiring.connect``,
the app's one place."""

from assignment.suggestion.models import SuggestionRun
from assignment.suggestion.services import suggestions_refresh, suggestions_withdraw_for_employee


def after_sync_suggestions(*, organization, run, device_ids, actor) -> dict:
    """After each sync: one bulk scoring run, inline (a fixed number of reads; see benchmarks/bench_suggestion.py)."""
    return suggestions_refresh(organization=organization, actor=actor, trigger=SuggestionRun.Trigger.SYNC)


def withdraw_leaver_suggestions(*, employee, actor) -> dict:
    return {"suggestions_withdrawn": suggestions_withdraw_for_employee(employee=employee, actor=actor)}
