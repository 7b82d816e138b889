"""MDM actions and reads other apps ask of Fleet, by organization: each opens the organization's Fleet client,
catches its errors and closes it, so no other app builds a client or knows Fleet's exceptions.

Every function takes ``client=``: a client the caller already has (a test's simulator client), used as given and
left open for its owner to close.
"""

from django.utils.translation import gettext_lazy

from mdm_sync.fleet import FleetClient, FleetError, FleetNotFound
from mdm_sync.models import FleetConnection
from mdm_sync.services import fleet_client_for

NOT_CONNECTED = gettext_lazy("This organization is not connected to Fleet.")


def host_release(*, organization, host_id: int, turn_off_mdm: bool, client: FleetClient | None = None) -> str | None:
    """Let the host go from Fleet: turn its MDM off (``turn_off_mdm``) or delete the host. Returns None when done,
    a host already gone from Fleet included (the release holds), or the sentence saying why not."""
    own = client is None
    try:
        if own:
            connection = FleetConnection.objects.for_org(organization).first()
            if connection is None:
                return str(NOT_CONNECTED)  # stored (JSON, text): the sentence, not a lazy string
            client = fleet_client_for(connection)
        if turn_off_mdm:
            client.turn_off_mdm(host_id)
        else:
            client.delete_host(host_id)
    except FleetNotFound:
        return None
    except FleetError as exc:
        return str(exc)[:300]
    finally:
        if own and client is not None:
            client.close()
    return None


class IdentityLookup:
    """The IdP identities (e-mails) signed in on hosts, from Get host ``end_users``, for at most ``limit`` hosts.

    The client is opened on the first lookup (a run that needs none calls Fleet for nothing) and kept for the
    next ones; ``close()`` (or leaving the ``with`` block) closes it. A Fleet error answers an empty set, and an
    organization without a Fleet connection stops the lookups."""

    def __init__(self, *, organization, limit: int, client: FleetClient | None = None):
        self.organization = organization
        self.budget = limit
        self.client = client
        self.own = client is None

    def __enter__(self) -> "IdentityLookup":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def emails(self, host_id: int) -> set[str]:
        if self.budget <= 0:
            return set()
        try:
            if self.client is None:
                connection = FleetConnection.objects.for_org(self.organization).first()
                if connection is None:
                    self.budget = 0
                    return set()
                self.client = fleet_client_for(connection, retries=1, timeout=15)
            self.budget -= 1
            host = self.client.get_host(host_id)
        except FleetError:
            return set()
        return {user.idp_username for user in host.end_users if user.idp_username and "@" in user.idp_username}

    def close(self) -> None:
        if self.own and self.client is not None:
            self.client.close()
            self.client = None
