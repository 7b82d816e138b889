"""The errors of a Fleet call, one class per way it fails; ``str()`` is the sentence shown to the admin."""


class FleetError(Exception):
    """A Fleet call failed; ``str()`` is the sentence shown to the admin (never the token)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class FleetAuthError(FleetError):
    """401/403: the API token is wrong, expired, or lacks the permission."""


class FleetNotFound(FleetError):
    """404: the host (or the endpoint) does not exist."""


class FleetUnavailable(FleetError):
    """Fleet could not be reached or kept failing: DNS, TLS, timeouts, 5xx and 429 after retries."""


class FleetBadResponse(FleetError):
    """Fleet answered, but not with what its API documents (HTML, broken JSON, a wrong shape)."""
