"""What automatic assignment may do: the one definition every automatic path follows (it lives with the
devices, below the feature apps that apply it).

Automatic paths are enrollment's automatic assignment (``enrollment.autoassign``), suggestion's ``auto``
mode (``assignment.suggestion.services``) and a pre-assignment applied when its device shows up
(``assignment.services``). Two rules:

* **Phones and tablets** (iOS, iPadOS, Android) are never assigned automatically, as the help center says:
  they stay suggestions for a person to accept. A pre-assignment by serial number is an admin's explicit
  intent and still applies to them.
* **Leavers** (an active employee with a draft or scheduled offboarding, ``core.selectors.employees_leaving``)
  never get a device automatically; a person giving them one (a pre-assignment, a CSV row) is warned, not refused.
"""

from django.utils.translation import gettext as _

from core.selectors import employees_leaving
from devices.models import Platform

MANUAL_ONLY_PLATFORMS = frozenset({Platform.IOS, Platform.IPADOS, Platform.ANDROID})

LEAVING_CODE = "employee_leaving"


def assigned_by_a_person_only(platform: str) -> bool:
    """True for the platforms no automatic path assigns (phones and tablets)."""
    return platform in MANUAL_ONLY_PLATFORMS


def platform_hold_reason(platform: str) -> str:
    """Why an automatic path left a device of ``platform`` to a person ("" when it may assign it)."""
    if not assigned_by_a_person_only(platform):
        return ""
    return _("Phones and tablets (iOS, iPadOS, Android) are never assigned automatically: a person accepts the "
             "suggestion or assigns the device, or a pre-assignment by serial number does.")


def leaving_sentence(*, name: str, why: str) -> str:
    """"Lea Leaving is leaving: their offboarding has been started (draft).\""""
    return _("%(name)s is leaving: %(why)s.") % {"name": name, "why": why}


def leaving_hold_reason(*, name: str, why: str) -> str:
    """The note of a device or pre-assignment an automatic path did not give to a leaver."""
    return _("Not assigned automatically: %(sentence)s Assign it by hand if it really is theirs.") % {
        "sentence": leaving_sentence(name=name, why=why)}


def leaving_warning(*, employee_id: int, name: str, why: str, **extra) -> dict:
    """A warning as the API answers it: ``{"code": "employee_leaving", "detail": …, "employee": id, …extra}``."""
    return {"code": LEAVING_CODE, "detail": leaving_sentence(name=name, why=why), "employee": employee_id, **extra}


def leaving_warnings_for(*, organization, employee) -> list[dict]:
    """The warnings a person giving ``employee`` a device (or a pre-assignment) should see: [] or one."""
    why = employees_leaving(organization=organization, employee_ids=[employee.pk]).get(employee.pk)
    if why is None:
        return []
    return [leaving_warning(employee_id=employee.pk, name=employee.display_name, why=why)]
