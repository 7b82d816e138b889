"""Ordered steps that later apps plug into an earlier app's flow, so the earlier app never imports them.

``mdm_sync.hooks.after_sync`` (after each successful sync) and the two below are instances. An app
registers from its ``AppConfig.ready``::

    employee_offboarded.register(cancel_pre_assignments, order=10)

Steps run in ``order``. ``isolated`` registries (after a commit, e.g. after a sync) log and record a
failing step and go on; the others let the error propagate so the caller's transaction rolls back.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Step:
    order: int
    name: str
    function: Callable


class Steps:
    def __init__(self, name: str, *, isolated: bool = False, savepoints: bool = False):
        """``savepoints``: each isolated step runs in its own savepoint, so a failing one leaves no half-write
        in the caller's transaction (for steps run inside it, e.g. ``devices.hooks.device_created``)."""
        self.name = name
        self.isolated = isolated
        self.savepoints = savepoints
        self._steps: list[_Step] = []

    def register(self, function: Callable, *, order: int = 100, name: str | None = None) -> Callable:
        name = name or f"{function.__module__}.{function.__qualname__}"
        if all(step.name != name for step in self._steps):
            self._steps.append(_Step(order, name, function))
            self._steps.sort(key=lambda step: step.order)
        return function

    @property
    def names(self) -> list[str]:
        return [step.name for step in self._steps]

    def run(self, **kwargs) -> dict:
        """Call every step with ``kwargs``; returns {step name: {"ok": bool, **what it returned or the error}}."""
        results = {}
        for step in self._steps:
            if not self.isolated:
                results[step.name] = {"ok": True, **(step.function(**kwargs) or {})}
                continue
            try:
                if self.savepoints:
                    with transaction.atomic():
                        outcome = step.function(**kwargs)
                else:
                    outcome = step.function(**kwargs)
                results[step.name] = {"ok": True, **(outcome or {})}
            except Exception as exc:  # one step's bug must not hide the others' work
                logger.exception("%s step %s failed", self.name, step.name)
                results[step.name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:500]}
        return results


# Called by core.services after an employee is created (HR API, cockpit, CSV import), after commit,
# with ``employee=``, ``actor=``, ``source=``: e.g. enrollment sends the invitation when the organization asks.
employee_created = Steps("employee_created", isolated=True)

# Called by offboarding's completion inside its transaction, with ``employee=``, ``actor=``: e.g. assignment
# cancels the leaver's pending pre-assignments and suggestions. A failing step rolls the completion back.
employee_offboarded = Steps("employee_offboarded")

# Asked by ``core.selectors.employees_leaving`` with ``organization=``: each step answers
# ``{"employees": {employee_id: why}}`` for the active employees whose departure is under way (e.g. offboarding's
# draft or scheduled cases). Automatic paths skip them; a person assigning one by hand is warned.
employees_leaving = Steps("employees_leaving")

# Asked by ``core.forms.CockpitLoginForm`` once a password is right, before the session starts, with ``user=``,
# ``request=``: a step refuses the password sign-in by raising ``django.core.exceptions.ValidationError`` with
# its message (e.g. sso: the organization requires single sign-on). Steps may record audit entries.
password_sign_in = Steps("password_sign_in")

# Run after the commit that changed which devices belong to groups, renamed a group or deleted one, with
# ``organization=``, ``group_ids=`` (a deleted group's id included): e.g. mdm_sync queues the update of the
# groups' Fleet labels. Callers use :func:`groups_changed_on_commit`. A failing step is logged, never raised.
groups_changed = Steps("groups_changed", isolated=True)


def groups_changed_on_commit(*, organization, group_ids) -> None:
    """Run :data:`groups_changed` once the current transaction commits (at once outside one); no ids, no call."""
    ids = sorted({int(group_id) for group_id in group_ids})
    if ids:
        transaction.on_commit(lambda: groups_changed.run(organization=organization, group_ids=ids))
