"""The audit log's registry: why a change happened (``Source``) and every event code with the sentence the cockpit
shows. The core's own codes are here; each app registers its own from its wiring (``register_events``).

Stored sentences (``Phrase``): a sentence a service writes into an entry (a move's system reason, why a request was
refused) is kept as its code and parameters, and rendered when someone reads it, in the reader's language, not the
language of whoever triggered it. An entry keeps both: ``after[key]`` the sentence in ``settings.LANGUAGE_CODE``
(for the API, webhooks and any reader that does not know the code) and ``after[key + "_phrase"]`` its code and
parameters, which :func:`readable` renders. Rows written before hold the text alone and read as they were.
A model keeps a stored sentence the same way: a text field and a JSON ``<field>_phrase`` beside it
(:func:`phrase_fields` writes both, :func:`stored_reading` reads them). Apps register their phrase codes like their
events (``register_phrases``), and the sources they record changes under beyond ``Source`` (``register_sources``).

Nothing here touches the database, so the models can describe an entry without importing the writer.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """Why a change happened (DESIGN §4)."""

    MANUAL = "manual", _("Manual")
    ENROLLMENT = "enrollment", _("Enrollment")
    PRE_ASSIGNMENT = "pre_assignment", _("Pre-assignment")
    CSV_IMPORT = "csv_import", _("CSV import")
    SUGGESTION = "suggestion", _("Suggestion")
    OFFBOARDING = "offboarding", _("Offboarding")
    API = "api", _("API")
    SYNC = "sync", _("Sync")


# Sources other apps add beyond DESIGN §4's (an app's own channel, such as SCIM), each with its lazy label.
SOURCE_LABELS: dict[str, str] = dict(Source.choices)


def register_sources(labels: dict[str, str]) -> None:
    """An app that records changes under its own source gives it a label; a code is registered once."""
    clashes = {code for code, label in labels.items() if SOURCE_LABELS.get(code, label) != label}
    if clashes:
        raise ValueError(f"Sources registered twice with different labels: {sorted(clashes)}")
    SOURCE_LABELS.update(labels)


def source_label(code: str) -> str:
    """Why a change happened, as the cockpit shows it: the source's label in the active language (the code itself
    for one no app registers)."""
    return str(SOURCE_LABELS.get(code, code))


EVENTS: dict[str, str] = {  # each sentence lazy (gettext_lazy), with its str.format placeholders
    "organization.created": _("{actor} created the organization {target}"),
    "organization.settings_updated": _("{actor} changed the settings of {target}"),
    "membership.created": _("{actor} gave {target} the role {after[role]}"),
    "api_token.created": _("{actor} created the API token {target} ({after[scope]})"),
    "api_token.revoked": _("{actor} revoked the API token {target}"),
    "group.created": _("{actor} created the group {target}"),
    "group.updated": _("{actor} edited the group {target}"),
    "group.deleted": _("{actor} deleted the group {target}"),
    "group.members_changed": _("{actor} changed the members of the group {target}"),
    "employee.created": _("{actor} added the employee {target}"),
    "employee.updated": _("{actor} edited the employee {target}"),
    # The cockpit's sign-in (cockpit.views.LoginView): recorded in each organization the account is a member of.
    "auth.login_locked": _("Sign-in locked for {target} after {after[failures]} failed attempts "
                           "(last from {after[address]}, for {after[minutes]} minutes)"),
}


def register_events(events: dict[str, str]) -> None:
    """Feature apps add their event codes from their ``AppConfig.ready``; a code is registered once."""
    clashes = {code for code, sentence in events.items() if EVENTS.get(code, sentence) != sentence}
    if clashes:
        raise ValueError(f"Audit event codes registered twice with different sentences: {sorted(clashes)}")
    EVENTS.update(events)


class _Blank(dict):
    def __missing__(self, key):
        return "—"


# --- stored sentences ----------------------------------------------------------------------------------------

PHRASE_SUFFIX = "_phrase"

PHRASES: dict[str, str] = {  # each lazy, with its %(name)s placeholders (a parameter missing reads "—")
    "note_then_phrase": _("%(note)s: %(phrase)s"),  # a person's note, then the sentence the service adds
}


def register_phrases(phrases: dict[str, str]) -> None:
    """Apps add their phrase codes from their wiring; a code is registered once."""
    clashes = {code for code, sentence in phrases.items() if PHRASES.get(code, sentence) != sentence}
    if clashes:
        raise ValueError(f"Phrase codes registered twice with different sentences: {sorted(clashes)}")
    PHRASES.update(phrases)


@dataclass(frozen=True)
class Phrase:
    """A sentence kept as its code and parameters, rendered when read (``str()`` speaks the active language).
    ``note``: what it follows, a person's own words or another phrase (a move's note, then the reason the service
    adds)."""

    code: str
    params: dict = field(default_factory=dict)
    note: "str | Phrase" = ""

    def __post_init__(self):
        if self.code not in PHRASES:
            raise ValueError(f"Unknown phrase code {self.code!r}: register it (core.events.register_phrases)")

    def as_json(self) -> dict:
        note = self.note.as_json() if isinstance(self.note, Phrase) else self.note
        return {"code": self.code, "params": dict(self.params)} | ({"note": note} if note else {})

    def stored_text(self) -> str:
        """The sentence in ``settings.LANGUAGE_CODE``: the text kept beside the code."""
        with translation.override(settings.LANGUAGE_CODE):
            return str(self)

    def __str__(self) -> str:
        return phrase_text(self.as_json())


def phrase_text(stored: dict, fallback: str = "") -> str:
    """A stored phrase (``Phrase.as_json``) in the active language; ``fallback`` when its code is unknown here."""
    template = PHRASES.get(stored.get("code", "")) if isinstance(stored, dict) else None
    if template is None:
        return fallback
    sentence = str(template) % _Blank(stored.get("params") or {})
    note = stored.get("note")
    if isinstance(note, dict):
        note = phrase_text(note)
    if note:
        sentence = str(PHRASES["note_then_phrase"]) % {"note": note, "phrase": sentence}
    return sentence


def with_phrase(key: str, value) -> dict:
    """What an audit entry keeps for ``key``: a person's text as it is, a ``Phrase`` as its text and its code."""
    if isinstance(value, Phrase):
        return {key: value.stored_text(), key + PHRASE_SUFFIX: value.as_json()}
    return {key: value}


def phrase_fields(name: str, value: "str | Phrase", max_length: int) -> dict:
    """A model's text field ``name`` and its ``name + "_phrase"`` beside it, for a person's text (kept as typed, no
    code) or a ``Phrase`` (its text in ``settings.LANGUAGE_CODE``, as the API gives it, and its code)."""
    if isinstance(value, Phrase):
        return {name: value.stored_text()[:max_length], name + PHRASE_SUFFIX: value.as_json()}
    return {name: (value or "")[:max_length], name + PHRASE_SUFFIX: {}}


def stored_reading(text: str, stored: dict | None) -> str:
    """A model's stored text for a reader: its phrase in the active language when it still says what the text says
    (a writer that sets the text alone leaves an older phrase behind: the text wins), else the text as kept."""
    if not text or not stored:
        return text
    with translation.override(settings.LANGUAGE_CODE):
        kept = phrase_text(stored)
    return phrase_text(stored, fallback=text) if kept and kept.startswith(text) else text


def readable(data: dict | None) -> dict:
    """An entry's ``before`` or ``after`` for a reader: each stored phrase rendered in the active language over the
    text kept beside it, the codes themselves left out."""
    data = data or {}
    if not any(key.endswith(PHRASE_SUFFIX) for key in data):
        return dict(data)
    shown = {key: value for key, value in data.items() if not key.endswith(PHRASE_SUFFIX)}
    for key, value in data.items():
        if key.endswith(PHRASE_SUFFIX):
            name = key[: -len(PHRASE_SUFFIX)]
            shown[name] = phrase_text(value, fallback=data.get(name, ""))
    return shown


def describe(event) -> str:
    # The sentences are lazy (gettext_lazy): str() gives them in the language active now, the reader's.
    template = str(EVENTS.get(event.event, "{actor}: " + event.event + " on {target}"))
    sentence = template.format_map(
        _Blank(
            actor=event.actor_label,
            target=event.target_label or f"#{event.target_id}",
            before=_Blank(readable(event.before)),
            after=_Blank(readable(event.after)),
        )
    )
    if (event.after or {}).get("wipe_requested"):
        sentence += " " + gettext("(wipe requested)")
    if (event.after or {}).get("fleet_removal_requested"):
        sentence += " " + gettext("(removal from Fleet requested)")
    return sentence
