"""A SCIM user's ``preferredLanguage`` and ``locale`` (RFC 7643 §4.1.1) as the employee's language (pure, no I/O).

* ``preferredLanguage`` has the syntax of an HTTP ``Accept-Language`` (RFC 7231 §5.3.5): one language tag, or a
  list with weights (``"da, en-gb;q=0.8, en;q=0.7"``). ``locale`` is one language tag (RFC 5646). Identity
  providers also write them with an underscore (``en_US``, the RFC's own schema example), which is read as a hyphen.
* The employee's language is the first of ``preferredLanguage``'s tags, by weight, that the cockpit speaks, a
  regional tag matching its language (``fr-CA`` → ``fr``); else ``locale``'s, read the same way; else none (their
  organization's language).
* A well-formed tag the cockpit does not speak (``de-DE``) is kept as the provider wrote it and maps to nothing;
  a value that is no language tag at all is refused (``invalidValue``), as any malformed value is.
"""

import re

from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _

from core.errors import InvalidInput

LANGUAGE_ATTRIBUTES = ("preferredLanguage", "locale")
MAX_LENGTH = 200

_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_WEIGHT = re.compile(r"q=(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.IGNORECASE)


def _ranges(value: str) -> list[str] | None:
    """The tags of an ``Accept-Language`` value, highest weight first (ties keep their order); None if malformed."""
    weighted = []
    for position, item in enumerate(value.split(",")):
        tag, *parameters = [part.strip() for part in item.split(";")]
        if not tag and not parameters:
            continue  # "da, , en": an empty element is allowed by the list syntax
        if not (tag == "*" or _TAG.fullmatch(tag)) or len(parameters) > 1:
            return None
        if parameters and not _WEIGHT.fullmatch(parameters[0].replace(" ", "")):
            return None
        weight = float(parameters[0].replace(" ", "")[2:] or 0) if parameters else 1.0
        weighted.append((-weight, position, tag))
    return [tag for weight, _position, tag in sorted(weighted) if weight < 0] if weighted else None


def clean_languages(attributes: dict) -> None:
    """Refuse a ``preferredLanguage`` or ``locale`` that is not a language tag (``InvalidInput``)."""
    preferred = attributes.get("preferredLanguage")
    if preferred not in (None, "") and (len(str(preferred)) > MAX_LENGTH or _ranges(str(preferred)) is None):
        raise InvalidInput(_("preferredLanguage must be language tags such as “fr-CA” or “da, en-gb;q=0.8” "
                             "(got “%(value)s”).") % {"value": str(preferred)[:100]}, field="preferredLanguage")
    locale = attributes.get("locale")
    if locale not in (None, "") and not (len(str(locale)) <= MAX_LENGTH and _TAG.fullmatch(str(locale))):
        raise InvalidInput(_("locale must be a language tag such as “fr-CA” (got “%(value)s”).") % {
            "value": str(locale)[:100]}, field="locale")


def _supported(tag: str) -> str | None:
    if tag == "*":
        return None  # "any language": nothing to choose from, the organization's applies
    try:
        return get_supported_language_variant(tag.replace("_", "-").lower())
    except LookupError:
        return None


def language_of(attributes: dict) -> str | None:
    """The cockpit language (a code of ``settings.LANGUAGES``) the provider's attributes ask for, or None."""
    for tag in _ranges(str(attributes.get("preferredLanguage") or "")) or []:
        if found := _supported(tag):
            return found
    locale = str(attributes.get("locale") or "")
    return _supported(locale) if _TAG.fullmatch(locale) else None


def written_languages(attributes: dict) -> dict:
    """The language attributes among what the provider wrote (those it sent, not empty)."""
    return {key: attributes[key] for key in LANGUAGE_ATTRIBUTES if attributes.get(key) not in (None, "")}
