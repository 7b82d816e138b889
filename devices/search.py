"""The top bar's global search (``/o/<slug>/search/?q=``): one text, matched against the organization's devices
(serial number, name, assignee's name or e-mail) and employees (name, e-mail, directory user name, HR key)."""

from dataclasses import dataclass, field

from django.db.models import Q

from core.models import Employee
from core.selectors import lookup_text
from devices.models import Device

SEARCH_LIMIT = 25  # rows of each kind on the page; the full lists (their ``search`` filter) show the rest


@dataclass
class SearchResults:
    query: str
    exact_device: Device | None = None  # the one device whose serial number is the text: the page goes there
    devices: list[Device] = field(default_factory=list)
    employees: list[Employee] = field(default_factory=list)
    more_devices: bool = False
    more_employees: bool = False

    @property
    def empty(self) -> bool:
        return not (self.devices or self.employees)


def fleet_search(*, organization, query, limit: int = SEARCH_LIMIT) -> SearchResults:
    """The organization's devices and employees matching ``query``; at most three queries, none for empty text."""
    text = lookup_text(query)
    results = SearchResults(query=text)
    if not text:
        return results
    devices = Device.objects.for_org(organization)
    results.exact_device = devices.filter(Q(serial_number=text) | Q(serial_number=text.upper())).first()
    if results.exact_device is not None:
        return results
    found = list(
        devices.filter(
            Q(serial_number__icontains=text) | Q(name__icontains=text)
            | Q(assignee__full_name__icontains=text) | Q(assignee__email__icontains=text)
        )
        .select_related("assignee")
        .order_by("name", "serial_number", "id")[: limit + 1]
    )
    results.devices, results.more_devices = found[:limit], len(found) > limit
    people = list(
        Employee.objects.for_org(organization)
        .filter(
            Q(full_name__icontains=text) | Q(email__icontains=text) | Q(username__icontains=text)
            | Q(external_id__iexact=text)
        )
        .order_by("full_name", "email", "id")[: limit + 1]
    )
    results.employees, results.more_employees = people[:limit], len(people) > limit
    return results
