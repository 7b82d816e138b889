"""Steps that run after each successful sync: the apps that build on the sync plug in here.

Pre-assignment (assignment), automatic assignment on enrollment (enrollment), wipe confirmation
(offboarding) and assignment suggestion each register a function from their ``AppConfig.ready``::

    after_sync.register(apply_pre_assignments, order=10)

A step is called after the sync's own transaction committed, as
``step(organization=..., run=..., device_ids=..., actor=...)`` where ``device_ids`` are the
devices the run created or updated (a step that must look at every device queries them itself).
It returns a small dict of counts for the run's record, or None. Steps run in ``order``: pre-
assignment (an admin's explicit intent) before enrollment's automatic assignment, suggestion last.
A failing step is logged and recorded on the run; it neither undoes the sync nor stops the others.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Step:
    order: int
    name: str
    function: Callable


class AfterSyncSteps:
    def __init__(self):
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

    def run(self, *, organization, run, device_ids: list[int], actor) -> dict:
        results = {}
        for step in self._steps:
            try:
                outcome = step.function(organization=organization, run=run, device_ids=device_ids, actor=actor)
                results[step.name] = {"ok": True, **(outcome or {})}
            except Exception as exc:  # one step's bug must not hide the others' work
                logger.exception("After-sync step %s failed for %s", step.name, organization.slug)
                results[step.name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:500]}
        return results


after_sync = AfterSyncSteps()
