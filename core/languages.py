"""Whose language a page or an e-mail speaks (issue #14).

- A cockpit user: their preference (``UserPreference.language``), else the switcher's cookie or the browser's
  ``Accept-Language`` (``LocaleMiddleware``); :class:`core.middleware.UserLanguageMiddleware` applies it.
- An employee (their e-mails, the enrollment page): their own language, else their organization's; an
  organization without one leaves its enrollment page to the visitor's browser and writes e-mails in
  ``settings.LANGUAGE_CODE``.
- A cockpit e-mail to an admin: their preference, else the organization's.

Mail is rendered inside ``translation.override(language)``: the subject, both bodies and every lazy string in the
context then speak the recipient's language, whatever the request or the worker runs in.
"""

import re

from django.conf import settings

from core.models import Employee, Organization, UserPreference

# The user's preference, kept in their session once read: a signed-in page costs no query for it.
SESSION_KEY = "cockpit_language"


def supported(code: str | None) -> str | None:
    """``code`` when it is one of ``settings.LANGUAGES``, else None."""
    return code if code in dict(settings.LANGUAGES) else None


def organization_language(organization: Organization | None, *, default: str | None = None) -> str | None:
    """The organization's language; when it has none, ``default`` (``settings.LANGUAGE_CODE`` unless given)."""
    language = supported(getattr(organization, "language", None))
    return language or (settings.LANGUAGE_CODE if default is None else default)


def employee_language(employee: Employee) -> str:
    """An employee's e-mails and enrollment page: their language, else their organization's."""
    return supported(employee.language) or organization_language(employee.organization)


def user_preferred_language(user) -> str:
    """The language a cockpit user chose ("" when none): one query, or none when the user is anonymous."""
    if not getattr(user, "is_authenticated", False):
        return ""
    preference = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return supported(preference) or ""


def user_language(user, organization: Organization | None = None) -> str:
    """A cockpit e-mail to ``user``: their preference, else the organization's language."""
    return user_preferred_language(user) or organization_language(organization)


def one_line(text: str) -> str:
    """A rendered e-mail subject on one line. Only ASCII white space is collapsed (``str.split()`` would also eat
    the no-break space French typography puts before ":")."""
    return " ".join(re.split(r"[ \t\r\n]+", text.strip()))
