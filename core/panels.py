"""Panels that feature apps add to the device, employee and group pages, without those pages knowing them.

An app registers, from its ``AppConfig.ready``, a function ``(request, obj) -> Panel | None``;
the page renders the panels it gets back, in registration order (``order``, then app order).
This keeps the core free of imports from the domain apps, and ``devices`` free of the apps built on it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    template: str  # rendered with the page's context plus ``panel`` (this object)
    context: dict = field(default_factory=dict)
    title: str = ""
    slot: str = "main"  # "beside": in the page's top row, next to its own facts (e.g. an employee's devices)


PanelFunction = Callable[..., "Panel | None"]


class PanelRegistry:
    def __init__(self, name: str):
        self.name = name
        self._functions: list[tuple[int, str, PanelFunction]] = []

    def register(self, function: PanelFunction, *, order: int = 100) -> PanelFunction:
        key = f"{function.__module__}.{function.__qualname__}"
        if all(existing != key for _, existing, _ in self._functions):
            self._functions.append((order, key, function))
            self._functions.sort(key=lambda entry: entry[0])
        return function

    def panels_for(self, request, obj) -> list[Panel]:
        panels = []
        for _, _, function in self._functions:
            panel = function(request, obj)
            if panel is not None:
                panels.append(panel)
        return panels


device_panels = PanelRegistry("device")
employee_panels = PanelRegistry("employee")
group_panels = PanelRegistry("group")  # e.g. mdm_sync: the group's Fleet label
