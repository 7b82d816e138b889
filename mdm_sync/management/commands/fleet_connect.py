from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.errors import DomainError
from core.models import Organization
from mdm_sync.services import fleet_connection_save


class Command(BaseCommand):
    help = "Connect an organization to its Fleet server. Fleet must answer with the token, or nothing is saved."

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("--url", required=True, help="Fleet's base URL, e.g. https://fleet.example.com")
        parser.add_argument("--token", required=True, help="An API-only user's token")
        parser.add_argument("--no-verify-tls", action="store_true", help="Do not check Fleet's TLS certificate")
        parser.add_argument("--no-test", action="store_true", help="Save without asking Fleet first")

    def handle(self, *args, org_slug, url, token, no_verify_tls, no_test, **options):
        organization = Organization.objects.filter(slug=org_slug).first()
        if organization is None:
            raise CommandError(f"No organization with the slug “{org_slug}”.")
        try:
            connection = fleet_connection_save(
                organization=organization, url=url, token=token, verify_tls=not no_verify_tls, test=not no_test,
                actor=Actor.system("fleet_connect"),
            )
        except DomainError as exc:
            raise CommandError(f"Not connected: {exc.message}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"{organization.name} is connected to {connection.url}. {connection.last_test_message}".strip()
        ))
