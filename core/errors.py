"""Domain errors raised by services. The API and the cockpit turn them into answers.

``status`` is the HTTP status the API answers with; ``field`` names the input at fault.
"""


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request names something that cannot be used (an offboarded employee, a foreign group)."""


class IllegalTransition(DomainError):
    """The object's current state does not allow this move (archiving twice, assigning an archived device)."""

    status = 409
    code = "illegal_transition"


class ConcurrentChange(DomainError):
    """Someone else changed or is changing the same object right now."""

    status = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    """Something the request needs is down (the job broker): nothing was queued; try again later."""

    status = 503
    code = "unavailable"
