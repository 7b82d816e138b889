"""Fleet connection state changes. Other apps reach Fleet only through this app's services."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from core.actors import Actor
from core.audit import audit_record
from core.crypto import SecretUnreadable
from core.dispatch import enqueue
from core.errors import InvalidInput
from core.models import Organization
from mdm_sync.fleet import FleetClient, FleetError
from mdm_sync.models import FleetConnection

SYNC_TASK = "mdm_sync.tasks.sync_organization_task"


def fleet_client_for(connection: FleetConnection, **options) -> FleetClient:
    """A client for the organization's Fleet; raises :class:`FleetError` if the stored token is unreadable."""
    try:
        token = connection.token
    except SecretUnreadable as exc:
        raise FleetError(str(exc)) from exc
    return FleetClient(connection.url, token, verify=connection.verify_tls, **options)


def fleet_probe(*, url: str, token: str, verify_tls: bool = True) -> str:
    """Ask Fleet for its host count: the cheapest call that proves URL, TLS and token. Returns a sentence."""
    with FleetClient(url, token, verify=verify_tls, retries=1, timeout=15) as client:
        count = client.count_hosts()
    return ngettext("Connected: Fleet reports %(count)s host.", "Connected: Fleet reports %(count)s hosts.", count) % {
        "count": count}


def fleet_connection_save(
    *, organization: Organization, url: str, token: str | None, actor: Actor, verify_tls: bool = True,
    test: bool = True,
) -> FleetConnection:
    """Create or update the connection. With ``test``, Fleet must answer first or nothing is saved.

    ``token=None`` keeps the stored token (the settings form never shows it back). Fleet is asked
    before the transaction opens: no row lock is held while waiting on the network.
    """
    url = (url or "").strip().rstrip("/")
    existing = FleetConnection.objects.for_org(organization).first()
    if token is None:
        if existing is None:
            raise InvalidInput(gettext("Enter the Fleet API token."), field="token")
        token = fleet_client_token(existing)
    token = token.strip()
    if not token:
        raise InvalidInput(gettext("Enter the Fleet API token."), field="token")
    message = ""
    try:
        if test:
            message = fleet_probe(url=url, token=token, verify_tls=verify_tls)
        else:
            FleetClient(url, token).close()  # validates the URL's form
    except FleetError as exc:
        raise InvalidInput(str(exc), field="url" if "URL" in str(exc) else "token") from exc
    with transaction.atomic():
        connection = (
            FleetConnection.objects.for_org(organization).select_for_update().first()
            or FleetConnection(organization=organization)
        )
        connection.url = url
        connection.token = token
        connection.verify_tls = verify_tls
        if test:
            connection.last_tested_at, connection.last_test_ok = timezone.now(), True
            connection.last_test_message = message
        connection.save()
        audit_record(organization=organization, actor=actor, event="fleet_connection.saved", target=connection,
                     after={"url": url, "verify_tls": verify_tls})
    return connection


def fleet_client_token(connection: FleetConnection) -> str:
    try:
        return connection.token
    except SecretUnreadable as exc:
        raise InvalidInput(str(exc), field="token") from exc


def fleet_connection_test(*, connection: FleetConnection, actor: Actor) -> tuple[bool, str]:
    """Probe the saved connection and record the outcome on it (shown on the settings page)."""
    try:
        message = fleet_probe(url=connection.url, token=fleet_client_token(connection),
                              verify_tls=connection.verify_tls)
        ok = True
    except (FleetError, InvalidInput) as exc:
        ok, message = False, str(exc)
    FleetConnection.objects.filter(pk=connection.pk).update(
        last_tested_at=timezone.now(), last_test_ok=ok, last_test_message=message[:500]
    )
    audit_record(organization=connection.organization, actor=actor, event="fleet_connection.tested",
                 target=connection, after={"result": message[:200], "ok": ok})
    return ok, message


def queue_sync(organization_id: int, trigger: str, actor_label: str) -> None:
    """Ask a worker to sync the organization now. By task name: services and tasks do not import each other."""
    enqueue(SYNC_TASK, organization_id, trigger, actor_label)


def fleet_sync_queue(*, organization: Organization, trigger: str, actor: Actor) -> None:
    """Start a sync now, in the worker, once the current transaction commits."""
    if not FleetConnection.objects.for_org(organization).exists():
        raise InvalidInput(gettext("This organization is not connected to Fleet."))
    organization_id, label = organization.pk, actor.label[:200]
    transaction.on_commit(lambda: queue_sync(organization_id, trigger, label))
