"""Logging filters that keep the console readable (``cockpit/settings.py`` ``LOGGING`` attaches them).

- :class:`ClientErrorsWithoutTraceback` on ``django.request``: a 403 or 404 is the client's doing, logged as one
  WARNING line; Django attaches the ``PermissionDenied``/``Http404`` traceback, which says nothing a reader needs.
  Server errors (5xx) keep theirs.
- :class:`AccessLineAtInfo` on ``django.server`` (``runserver``'s access log): every request's line is INFO; the
  refusal itself is ``django.request``'s WARNING (or ERROR), so a 403 is one warning, not two.
- :class:`DropMessage` drops one known, harmless message of a library logger, matched by its start.
"""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class AccessLineAtInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


class DropMessage(logging.Filter):
    """Drops the records whose message starts with ``starts_with`` (a dictConfig ``"()"`` factory argument)."""

    def __init__(self, starts_with: str):
        super().__init__()
        self.starts_with = starts_with

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.starts_with)
